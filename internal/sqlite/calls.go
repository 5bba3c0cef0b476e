package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertCall = `INSERT INTO calls (id, token, status, provider_sid, api_key_id, idempotency_key, request_hash,
		next_attempt_at, version, created_at, data, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`
	qCallIdem    = `SELECT request_hash, id FROM calls WHERE tenant = ? AND api_key_id = ? AND idempotency_key = ?`
	qCallByID    = `SELECT version, data FROM calls WHERE id = ?`
	qCallByToken = `SELECT version, data FROM calls WHERE token = ?`
	qUpdateCall  = `UPDATE calls SET status = ?, provider_sid = ?, next_attempt_at = ?, version = version + 1, data = ? WHERE id = ? AND version = ?`
	qReleaseCall = `UPDATE calls SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`
	qLiveCalls   = `SELECT version, data FROM calls WHERE ` + sqlstore.LiveCallsWhere
	// qListCallsByMetadata walks call_metadata's primary key (tenant, key, value, call_id) in page
	// order, from the cursor (a range of the index: no rows above the cursor are read).
	qListCallsByMetadata = `SELECT c.version, c.data FROM call_metadata cm JOIN calls c ON c.id = cm.call_id
		WHERE cm.tenant = ?1 AND cm.key = ?2 AND cm.value = ?3 AND cm.call_id < ?4 ORDER BY cm.call_id DESC LIMIT ?5`
	qInsertCallMetadata = `INSERT INTO call_metadata (tenant, key, value, call_id) VALUES (?, ?, ?, ?)`
	qCallQueue          = `SELECT COUNT(CASE WHEN next_attempt_at <= ?1 THEN 1 END), COUNT(CASE WHEN next_attempt_at > ?1 THEN 1 END),
		MIN(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END) FROM calls WHERE next_attempt_at IS NOT NULL`
	qClaimCalls = `UPDATE calls SET lease_owner = ?1, lease_until = ?2, version = version + 1
		WHERE id IN (SELECT id FROM calls WHERE next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
			ORDER BY next_attempt_at LIMIT ?4)
		RETURNING version, data`
)

func scanCall(s scanner) (*switchboard.Call, error) {
	var version int
	var data string
	if err := s.Scan(&version, &data); err != nil {
		return nil, err
	}
	return switchboard.DecodeCall([]byte(data), version)
}

// CreateCall stores a new call; see switchboard.CallStore.
func (db *DB) CreateCall(ctx context.Context, c *switchboard.Call, idem *switchboard.Idempotency) (*switchboard.Call, bool, error) {
	if err := switchboard.CheckCall(c); err != nil {
		return nil, false, err
	}
	c.Version = 1
	data, err := switchboard.EncodeCall(c)
	if err != nil {
		return nil, false, err
	}
	var replay *switchboard.Call
	err = db.write(ctx, func(t *wtx) error {
		var apiKey, key, hash any
		if idem != nil {
			var h, id string
			err := t.queryRow(qCallIdem, c.Tenant, idem.APIKeyID, idem.Key).Scan(&h, &id)
			switch {
			case err == nil:
				if err := switchboard.CheckReplay(idem, h); err != nil {
					return err
				}
				replay, err = scanCall(t.queryRow(qCallByID, id))
				return err
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlite: call idempotency key: %w", err)
			}
			apiKey, key, hash = idem.APIKeyID, idem.Key, idem.RequestHash
		}
		_, err := t.exec(qInsertCall, c.ID, c.Token, string(c.Status), sqlstore.NullString(c.ProviderSID), apiKey, key, hash,
			microsPtr(c.NextAttemptAt), micros(c.CreatedAt), string(data), c.Tenant)
		if isUnique(err) {
			return switchboard.ErrCallExists(c.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert call: %w", err)
		}
		for k, v := range c.Metadata {
			if _, err := t.exec(qInsertCallMetadata, c.Tenant, k, v, c.ID); err != nil {
				return fmt.Errorf("sqlite: insert call metadata: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if replay != nil {
		return replay, true, nil
	}
	return c, false, nil
}

func (db *DB) getCall(ctx context.Context, q, key string, notFound func() error) (*switchboard.Call, error) {
	c, err := scanCall(db.r.QueryRowContext(ctx, q, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: call: %w", err)
	}
	return c, nil
}

// GetCall returns a call, or ENOTFOUND.
func (db *DB) GetCall(ctx context.Context, id string) (*switchboard.Call, error) {
	return db.getCall(ctx, qCallByID, id, func() error { return switchboard.CallNotFound(id) })
}

// GetCallByToken returns the call with this webhook token, or ENOTFOUND.
func (db *DB) GetCallByToken(ctx context.Context, token string) (*switchboard.Call, error) {
	return db.getCall(ctx, qCallByToken, token, func() error { return switchboard.ErrCallTokenNotFound() })
}

// afterEveryCallID sorts after every call ID (call_ and lower-case hex), so that the first page
// of a listing by metadata is the same index range as the next ones.
const afterEveryCallID = "~"

// ListCalls lists calls newest first; see switchboard.CallStore.
func (db *DB) ListCalls(ctx context.Context, f switchboard.CallFilter) ([]*switchboard.Call, error) {
	limit := sqlstore.Limit(f.Limit)
	if f.Metadata != nil {
		before := f.Before
		if before == "" {
			before = afterEveryCallID
		}
		if f.Tenant != "" {
			return db.listCalls(ctx, qListCallsByMetadata, f.Tenant, f.Metadata.Key, f.Metadata.Value, before, limit)
		}
		// Every tenant's: the index read tenant by tenant, then the page's sort.
		q := `SELECT c.version, c.data FROM call_metadata cm JOIN calls c ON c.id = cm.call_id
			WHERE ` + sqlstore.AnyTenant("cm.tenant", "call_metadata") + ` AND cm.key = ? AND cm.value = ? AND cm.call_id < ?
			ORDER BY cm.call_id DESC LIMIT ?`
		return db.listCalls(ctx, q, f.Metadata.Key, f.Metadata.Value, before, limit)
	}
	var w sqlstore.Where
	if f.Tenant != "" {
		w.Add("tenant = ?", f.Tenant)
	}
	if f.Before != "" {
		w.Add("id < ?", f.Before)
	}
	return db.listCalls(ctx, "SELECT version, data FROM calls"+w.SQL()+" ORDER BY id DESC LIMIT ?", append(w.Args, limit)...)
}

func (db *DB) listCalls(ctx context.Context, q string, args ...any) ([]*switchboard.Call, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list calls: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list calls: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// StaleCalls lists calls handed to the provider whose last change is before before; see
// switchboard.CallStore.
func (db *DB) StaleCalls(ctx context.Context, before time.Time, limit int) ([]*switchboard.Call, error) {
	calls, err := db.listCalls(ctx, qLiveCalls)
	if err != nil {
		return nil, err
	}
	return sqlstore.StaleOf(calls, before, limit), nil
}

// UpdateCall stores c if it is still at c.Version; see switchboard.CallStore.
func (db *DB) UpdateCall(ctx context.Context, c *switchboard.Call, evs []*switchboard.AppEvent) error {
	data, err := switchboard.EncodeCall(c)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		r, err := t.exec(qUpdateCall, string(c.Status), sqlstore.NullString(c.ProviderSID), microsPtr(c.NextAttemptAt), string(data), c.ID, c.Version)
		if err != nil {
			return fmt.Errorf("sqlite: update call: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return switchboard.CallChanged(c.ID)
		}
		for _, ev := range evs {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		c.Version++
		return nil
	})
}

// ClaimCalls leases calls due to be placed; see switchboard.CallStore.
func (db *DB) ClaimCalls(ctx context.Context, owner string, now, until time.Time, limit int) ([]*switchboard.Call, error) {
	var out []*switchboard.Call
	err := db.write(ctx, func(t *wtx) error {
		out = out[:0]
		rows, err := t.query(qClaimCalls, owner, micros(until), micros(now), limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim calls: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCall(rows)
			if err != nil {
				return fmt.Errorf("sqlite: claim calls: %w", err)
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// ReleaseCall drops owner's lease on a call.
func (db *DB) ReleaseCall(ctx context.Context, id, owner string) error {
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(qReleaseCall, id, owner); err != nil {
			return fmt.Errorf("sqlite: release call: %w", err)
		}
		return nil
	})
}

// CallQueue counts the calls waiting to be placed; see switchboard.CallStore.
func (db *DB) CallQueue(ctx context.Context, now time.Time) (switchboard.CallQueueStats, error) {
	var q switchboard.CallQueueStats
	var oldest sql.NullInt64
	if err := db.r.QueryRowContext(ctx, qCallQueue, micros(now)).Scan(&q.Ready, &q.Deferred, &oldest); err != nil {
		return q, fmt.Errorf("sqlite: call queue: %w", err)
	}
	if oldest.Valid {
		t := fromMicros(oldest.Int64)
		q.OldestDueAt = &t
	}
	return q, nil
}
