package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
)

const (
	senderCols = `from_number, kind, rate, burst, pool, tenants, source, updated_at`

	qListSenders = `SELECT ` + senderCols + ` FROM senders WHERE deleted_at IS NULL ORDER BY position, from_number`
	qGetSender   = `SELECT ` + senderCols + ` FROM senders WHERE from_number = ? AND deleted_at IS NULL`

	// qUpsertConfigSender records a sender of the configuration file: a new one, or one still
	// from the configuration whose settings differ (an API-edited or removed one is left alone),
	// or that was recorded before updated_at existed (0).
	qUpsertConfigSender = `INSERT INTO senders (from_number, kind, rate, burst, pool, position, tenants, source, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'config', ?8)
		ON CONFLICT (from_number) DO UPDATE SET kind = excluded.kind, rate = excluded.rate, burst = excluded.burst,
			pool = excluded.pool, position = excluded.position, tenants = excluded.tenants, updated_at = excluded.updated_at
		WHERE senders.source = 'config' AND (senders.kind IS NOT excluded.kind OR senders.rate IS NOT excluded.rate
			OR senders.burst IS NOT excluded.burst OR senders.pool IS NOT excluded.pool
			OR senders.position IS NOT excluded.position OR senders.tenants IS NOT excluded.tenants
			OR senders.updated_at = 0)`
	// qDropConfigSenders removes the config senders the file (?1, a JSON array) no longer lists.
	qDropConfigSenders = `DELETE FROM senders WHERE source = 'config'
		AND from_number NOT IN (SELECT value FROM json_each(?1))`
	// qBumpSenders moves the senders' change marker.
	qBumpSenders = `INSERT INTO senders_version (id, version) VALUES (1, 1)
		ON CONFLICT (id) DO UPDATE SET version = senders_version.version + 1`
	qSendersVersion = `SELECT COALESCE((SELECT version FROM senders_version WHERE id = 1), 0)`

	// qCreateSender stores a sender made through the API, after every other (positions below
	// 1<<20 are the configuration's order), or brings a removed one back.
	qCreateSender = `INSERT INTO senders (from_number, kind, rate, burst, pool, position, tenants, source, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, (SELECT max(1048576, COALESCE(max(position), 0) + 1) FROM senders), ?6, 'api', ?7)
		ON CONFLICT (from_number) DO UPDATE SET kind = excluded.kind, rate = excluded.rate, burst = excluded.burst,
			pool = excluded.pool, position = excluded.position, tenants = excluded.tenants, source = 'api',
			updated_at = excluded.updated_at, deleted_at = NULL
		WHERE senders.deleted_at IS NOT NULL`
	qUpdateSender = `UPDATE senders SET kind = ?2, rate = ?3, burst = ?4, pool = ?5, tenants = ?6, source = 'api', updated_at = ?7
		WHERE from_number = ?1 AND deleted_at IS NULL`
	qQueuedFrom = `SELECT count(*) FROM messages WHERE from_number = ? AND status IN ('queued', 'scheduled')`
	qTombstone  = `UPDATE senders SET source = 'api', updated_at = ?2, deleted_at = ?2 WHERE from_number = ?1 AND deleted_at IS NULL`
)

// tenantsJSON is a sender's tenant list as stored: a JSON array, [] for every tenant.
func tenantsJSON(ts []string) string {
	if len(ts) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ts) // a []string always marshals
	return string(b)
}

type rowScanner interface{ Scan(dest ...any) error }

func scanSender(r rowScanner) (*switchboard.Sender, error) {
	var (
		s       switchboard.Sender
		tenants string
		updated int64
	)
	if err := r.Scan(&s.From, &s.Kind, &s.Rate, &s.Burst, &s.Pool, &tenants, &s.Source, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tenants), &s.Tenants); err != nil {
		return nil, fmt.Errorf("sender %s: tenants %q: %w", s.From, tenants, err)
	}
	if len(s.Tenants) == 0 {
		s.Tenants = nil
	}
	s.UpdatedAt = fromMicros(updated)
	return &s, nil
}

// SyncSenders records the configuration file's senders; see switchboard.SenderStore.
func (db *DB) SyncSenders(ctx context.Context, senders []switchboard.Sender, now time.Time) error {
	froms := make([]string, 0, len(senders))
	seen := make(map[string]bool, len(senders))
	for _, s := range senders {
		if seen[s.From] {
			return switchboard.ErrDuplicateSender(s.From)
		}
		seen[s.From] = true
		froms = append(froms, s.From)
	}
	listed, _ := json.Marshal(froms) // a []string always marshals
	return db.write(ctx, func(t *wtx) error {
		changed := int64(0)
		for i, s := range senders {
			res, err := t.exec(qUpsertConfigSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, i, tenantsJSON(s.Tenants), micros(now))
			if err != nil {
				return fmt.Errorf("sqlite: sync senders: %w", err)
			}
			n, _ := res.RowsAffected()
			changed += n
		}
		res, err := t.exec(qDropConfigSenders, string(listed))
		if err != nil {
			return fmt.Errorf("sqlite: sync senders: %w", err)
		}
		n, _ := res.RowsAffected()
		if changed+n == 0 {
			return nil
		}
		return bumpSenders(t)
	})
}

func bumpSenders(t *wtx) error {
	if _, err := t.exec(qBumpSenders); err != nil {
		return fmt.Errorf("sqlite: senders version: %w", err)
	}
	return nil
}

// ListSenders returns the stored senders in order; see switchboard.SenderStore.
func (db *DB) ListSenders(ctx context.Context) ([]switchboard.Sender, error) {
	rows, err := db.rstmts[qListSenders].QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list senders: %w", err)
	}
	defer rows.Close()
	var out []switchboard.Sender
	for rows.Next() {
		s, err := scanSender(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list senders: %w", err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list senders: %w", err)
	}
	return out, nil
}

// GetSender returns a stored sender, or ENOTFOUND.
func (db *DB) GetSender(ctx context.Context, from string) (*switchboard.Sender, error) {
	s, err := scanSender(db.rstmts[qGetSender].QueryRowContext(ctx, from))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrSenderNotFound(from)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: sender: %w", err)
	}
	return s, nil
}

// CreateSender stores a new sender made through the API; see switchboard.SenderStore.
func (db *DB) CreateSender(ctx context.Context, s *switchboard.Sender, now time.Time) error {
	if err := s.Validate(); err != nil {
		return err
	}
	err := db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qCreateSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, tenantsJSON(s.Tenants), micros(now))
		if err != nil {
			return fmt.Errorf("sqlite: create sender: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return switchboard.ErrSenderExists(s.From)
		}
		return bumpSenders(t)
	})
	if err != nil {
		return err
	}
	s.Source, s.UpdatedAt = switchboard.SenderFromAPI, fromMicros(micros(now))
	return nil
}

// UpdateSender replaces a stored sender's settings; see switchboard.SenderStore.
func (db *DB) UpdateSender(ctx context.Context, s *switchboard.Sender, now time.Time) (*switchboard.Sender, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var out *switchboard.Sender
	err := db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qUpdateSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, tenantsJSON(s.Tenants), micros(now))
		if err != nil {
			return fmt.Errorf("sqlite: update sender: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return switchboard.ErrSenderNotFound(s.From)
		}
		if out, err = scanSender(t.queryRow(qGetSender, s.From)); err != nil {
			return fmt.Errorf("sqlite: update sender: %w", err)
		}
		return bumpSenders(t)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSender removes a sender, keeping its tombstone; see switchboard.SenderStore.
func (db *DB) DeleteSender(ctx context.Context, from string, now time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		var queued int64
		if err := t.queryRow(qQueuedFrom, from).Scan(&queued); err != nil {
			return fmt.Errorf("sqlite: delete sender: %w", err)
		}
		if queued > 0 {
			if _, err := scanSender(t.queryRow(qGetSender, from)); errors.Is(err, sql.ErrNoRows) {
				return switchboard.ErrSenderNotFound(from)
			}
			return switchboard.ErrSenderHasQueued(from, queued)
		}
		res, err := t.exec(qTombstone, from, micros(now))
		if err != nil {
			return fmt.Errorf("sqlite: delete sender: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return switchboard.ErrSenderNotFound(from)
		}
		return bumpSenders(t)
	})
}

// SendersVersion returns the senders' change marker; see switchboard.SenderStore.
func (db *DB) SendersVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.rstmts[qSendersVersion].QueryRowContext(ctx).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: senders version: %w", err)
	}
	return v, nil
}
