package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
)

const (
	senderCols = `from_number, kind, rate, burst, pool, tenants, source, updated_at`

	qListSenders = `SELECT ` + senderCols + ` FROM senders WHERE deleted_at IS NULL ORDER BY position, from_number`
	qGetSender   = `SELECT ` + senderCols + ` FROM senders WHERE from_number = $1 AND deleted_at IS NULL`

	// qLockSenders serializes SyncSenders of several nodes starting at once: without it, one
	// node's inserts could collide with another's and look like a sender configured twice.
	qLockSenders = `LOCK TABLE senders IN SHARE ROW EXCLUSIVE MODE`
	// qUpsertConfigSender records a sender of the configuration file: a new one, or one still
	// from the configuration whose settings differ (an API-edited or removed one is left alone),
	// or that was recorded before updated_at existed (the epoch).
	qUpsertConfigSender = `INSERT INTO senders AS s (from_number, kind, rate, burst, pool, position, tenants, source, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'config', $8)
		ON CONFLICT (from_number) DO UPDATE SET kind = excluded.kind, rate = excluded.rate, burst = excluded.burst,
			pool = excluded.pool, position = excluded.position, tenants = excluded.tenants, updated_at = excluded.updated_at
		WHERE s.source = 'config' AND ((s.kind, s.rate, s.burst, s.pool, s.position, s.tenants)
			IS DISTINCT FROM (excluded.kind, excluded.rate, excluded.burst, excluded.pool, excluded.position, excluded.tenants)
			OR s.updated_at = 'epoch')`
	// qDropConfigSenders removes the config senders the file ($1) no longer lists.
	qDropConfigSenders = `DELETE FROM senders WHERE source = 'config' AND NOT (from_number = ANY($1::text[]))`
	// qBumpSenders moves the senders' change marker; its row lock also queues concurrent changes.
	qBumpSenders = `INSERT INTO senders_version AS v (id, version) VALUES (1, 1)
		ON CONFLICT (id) DO UPDATE SET version = v.version + 1`
	qSendersVersion = `SELECT COALESCE((SELECT version FROM senders_version WHERE id = 1), 0)`

	// qCreateSender stores a sender made through the API, after every other (positions below
	// 1<<20 are the configuration's order), or brings a removed one back.
	qCreateSender = `INSERT INTO senders AS s (from_number, kind, rate, burst, pool, position, tenants, source, updated_at)
		VALUES ($1, $2, $3, $4, $5, (SELECT GREATEST(1048576, COALESCE(max(position), 0) + 1) FROM senders), $6, 'api', $7)
		ON CONFLICT (from_number) DO UPDATE SET kind = excluded.kind, rate = excluded.rate, burst = excluded.burst,
			pool = excluded.pool, position = excluded.position, tenants = excluded.tenants, source = 'api',
			updated_at = excluded.updated_at, deleted_at = NULL
		WHERE s.deleted_at IS NOT NULL`
	qUpdateSender = `UPDATE senders SET kind = $2, rate = $3, burst = $4, pool = $5, tenants = $6, source = 'api', updated_at = $7
		WHERE from_number = $1 AND deleted_at IS NULL
		RETURNING ` + senderCols
	qLockSender = `SELECT 1 FROM senders WHERE from_number = $1 AND deleted_at IS NULL FOR UPDATE`
	qQueuedFrom = `SELECT count(*) FROM messages WHERE from_number = $1 AND status IN ('queued', 'scheduled')`
	qTombstone  = `UPDATE senders SET source = 'api', updated_at = $2, deleted_at = $2 WHERE from_number = $1 AND deleted_at IS NULL`
)

// tenantsJSON is a sender's tenant list as stored: a JSON array, [] for every tenant.
func tenantsJSON(ts []string) string {
	if len(ts) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ts) // a []string always marshals
	return string(b)
}

func scanSender(r pgx.Row) (*switchboard.Sender, error) {
	var (
		s       switchboard.Sender
		tenants string
		updated time.Time
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
	s.UpdatedAt = updated.UTC()
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
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qLockSenders); err != nil {
			return wrap("sync senders", err)
		}
		changed := int64(0)
		for i, s := range senders {
			tag, err := tx.Exec(ctx, qUpsertConfigSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, i, tenantsJSON(s.Tenants), now)
			if err != nil {
				return wrap("sync senders", err)
			}
			changed += tag.RowsAffected()
		}
		tag, err := tx.Exec(ctx, qDropConfigSenders, froms)
		if err != nil {
			return wrap("sync senders", err)
		}
		if changed+tag.RowsAffected() == 0 {
			return nil
		}
		return bumpSenders(ctx, tx)
	})
}

func bumpSenders(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, qBumpSenders); err != nil {
		return wrap("senders version", err)
	}
	return nil
}

// ListSenders returns the stored senders in order; see switchboard.SenderStore.
func (db *DB) ListSenders(ctx context.Context) ([]switchboard.Sender, error) {
	rows, err := db.pool.Query(ctx, qListSenders)
	if err != nil {
		return nil, wrap("list senders", err)
	}
	defer rows.Close()
	var out []switchboard.Sender
	for rows.Next() {
		s, err := scanSender(rows)
		if err != nil {
			return nil, wrap("list senders", err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list senders", err)
	}
	return out, nil
}

// GetSender returns a stored sender, or ENOTFOUND.
func (db *DB) GetSender(ctx context.Context, from string) (*switchboard.Sender, error) {
	s, err := scanSender(db.pool.QueryRow(ctx, qGetSender, from))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrSenderNotFound(from)
	} else if err != nil {
		return nil, wrap("sender", err)
	}
	return s, nil
}

// CreateSender stores a new sender made through the API; see switchboard.SenderStore.
func (db *DB) CreateSender(ctx context.Context, s *switchboard.Sender, now time.Time) error {
	if err := s.Validate(); err != nil {
		return err
	}
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		// The marker first: its row lock queues concurrent creates, so that positions stay apart.
		if err := bumpSenders(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qCreateSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, tenantsJSON(s.Tenants), now)
		if err != nil {
			return wrap("create sender", err)
		}
		if tag.RowsAffected() == 0 {
			return switchboard.ErrSenderExists(s.From)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.Source, s.UpdatedAt = switchboard.SenderFromAPI, now.UTC().Truncate(time.Microsecond)
	return nil
}

// UpdateSender replaces a stored sender's settings; see switchboard.SenderStore.
func (db *DB) UpdateSender(ctx context.Context, s *switchboard.Sender, now time.Time) (*switchboard.Sender, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var out *switchboard.Sender
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		var err error
		out, err = scanSender(tx.QueryRow(ctx, qUpdateSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, tenantsJSON(s.Tenants), now))
		if errors.Is(err, pgx.ErrNoRows) {
			return switchboard.ErrSenderNotFound(s.From)
		} else if err != nil {
			return wrap("update sender", err)
		}
		return bumpSenders(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSender removes a sender, keeping its tombstone; see switchboard.SenderStore. A message
// accepted on another node while the removal commits may still name the sender: the dispatcher
// sends such a message at the most conservative rate rather than strand it.
func (db *DB) DeleteSender(ctx context.Context, from string, now time.Time) error {
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, qLockSender, from).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return switchboard.ErrSenderNotFound(from)
		} else if err != nil {
			return wrap("delete sender", err)
		}
		var queued int64
		if err := tx.QueryRow(ctx, qQueuedFrom, from).Scan(&queued); err != nil {
			return wrap("delete sender", err)
		}
		if queued > 0 {
			return switchboard.ErrSenderHasQueued(from, queued)
		}
		if _, err := tx.Exec(ctx, qTombstone, from, now); err != nil {
			return wrap("delete sender", err)
		}
		return bumpSenders(ctx, tx)
	})
}

// SendersVersion returns the senders' change marker; see switchboard.SenderStore.
func (db *DB) SendersVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.pool.QueryRow(ctx, qSendersVersion).Scan(&v); err != nil {
		return 0, wrap("senders version", err)
	}
	return v, nil
}
