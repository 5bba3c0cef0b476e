package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertCall = `INSERT INTO calls (id, token, status, provider_sid, api_key_id, idempotency_key, request_hash,
		next_attempt_at, version, created_at, data, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11)`
	qCallIdem           = `SELECT request_hash, id FROM calls WHERE tenant = $1 AND api_key_id = $2 AND idempotency_key = $3`
	qCallByID           = `SELECT version, data FROM calls WHERE id = $1`
	qCallByToken        = `SELECT version, data FROM calls WHERE token = $1`
	qUpdateCall         = `UPDATE calls SET status = $1, provider_sid = $2, next_attempt_at = $3, version = version + 1, data = $4 WHERE id = $5 AND version = $6`
	qReleaseCall        = `UPDATE calls SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`
	qLiveCalls          = `SELECT version, data FROM calls WHERE ` + sqlstore.LiveCallsWhere
	qInsertCallMetadata = `INSERT INTO call_metadata (tenant, key, value, call_id) VALUES ($1, $2, $3, $4)`
	qCallQueue          = `SELECT COUNT(*) FILTER (WHERE next_attempt_at <= $1), COUNT(*) FILTER (WHERE next_attempt_at > $1),
		MIN(next_attempt_at) FILTER (WHERE next_attempt_at <= $1) FROM calls WHERE next_attempt_at IS NOT NULL`
	qClaimCalls = `UPDATE calls SET lease_owner = $1, lease_until = $2, version = version + 1
		WHERE id IN (SELECT id FROM calls WHERE next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING version, data`
)

func scanCall(r sqlstore.Scanner) (*switchboard.Call, error) {
	var version int
	var data []byte
	if err := r.Scan(&version, &data); err != nil {
		return nil, err
	}
	return switchboard.DecodeCall(data, version)
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
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
	for range 2 {
		replay = nil
		err = pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
			var apiKey, key, hash any
			if idem != nil {
				var h, id string
				err := tx.QueryRow(ctx, qCallIdem, c.Tenant, idem.APIKeyID, idem.Key).Scan(&h, &id)
				switch {
				case err == nil:
					if err := switchboard.CheckReplay(idem, h); err != nil {
						return err
					}
					replay, err = scanCall(tx.QueryRow(ctx, qCallByID, id))
					return err
				case !errors.Is(err, pgx.ErrNoRows):
					return err
				}
				apiKey, key, hash = idem.APIKeyID, idem.Key, idem.RequestHash
			}
			if _, err := tx.Exec(ctx, qInsertCall, c.ID, c.Token, string(c.Status), nullText(c.ProviderSID), apiKey, key, hash,
				c.NextAttemptAt, c.CreatedAt, data, c.Tenant); err != nil {
				return err
			}
			for k, v := range c.Metadata {
				if _, err := tx.Exec(ctx, qInsertCallMetadata, c.Tenant, k, v, c.ID); err != nil {
					return err
				}
			}
			return nil
		})
		// Two requests with one key raced: the loser reads the winner's call.
		if name, ok := uniqueViolation(err); ok && name == "calls_idempotency" {
			continue
		}
		break
	}
	if name, ok := uniqueViolation(err); ok && name != "calls_idempotency" {
		return nil, false, switchboard.ErrCallExists(c.ID)
	}
	if err != nil {
		return nil, false, wrap("create call", err)
	}
	if replay != nil {
		return replay, true, nil
	}
	return c, false, nil
}

func (db *DB) getCall(ctx context.Context, q, key string, notFound func() error) (*switchboard.Call, error) {
	c, err := scanCall(db.pool.QueryRow(ctx, q, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, wrap("call", err)
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

// ListCalls lists calls newest first; see switchboard.CallStore.
func (db *DB) ListCalls(ctx context.Context, f switchboard.CallFilter) ([]*switchboard.Call, error) {
	q, args := callsQuery(f)
	return db.listCalls(ctx, q, args...)
}

// callsQuery is ListCalls' query. With a metadata pair it walks call_metadata's primary key
// (tenant, key, value, call_id) in page order from the cursor (every tenant's: the index read
// tenant by tenant, then the page's sort).
func callsQuery(f switchboard.CallFilter) (string, []any) {
	limit := sqlstore.Limit(f.Limit)
	w := sqlstore.Where{Numbered: true}
	if f.Metadata != nil {
		sqlstore.TenantIn(&w, "cm.tenant", "call_metadata", f.Tenant)
		w.Add("cm.key = ?", f.Metadata.Key)
		w.Add("cm.value = ?", f.Metadata.Value)
		if f.Before != "" {
			w.Add("cm.call_id < ?", f.Before)
		}
		q := "SELECT c.version, c.data FROM call_metadata cm JOIN calls c ON c.id = cm.call_id" + w.SQL() +
			" ORDER BY cm.call_id DESC LIMIT " + w.Next()
		return q, append(w.Args, limit)
	}
	if f.Tenant != "" {
		w.Add("tenant = ?", f.Tenant)
	}
	if f.Before != "" {
		w.Add("id < ?", f.Before)
	}
	return "SELECT version, data FROM calls" + w.SQL() + " ORDER BY id DESC LIMIT " + w.Next(), append(w.Args, limit)
}

func (db *DB) listCalls(ctx context.Context, q string, args ...any) ([]*switchboard.Call, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, scanCall)
	if err != nil {
		return nil, wrap("list calls", err)
	}
	return out, nil
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
	switchboard.StampTenant(evs, c.Tenant)
	err = pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qUpdateCall, string(c.Status), nullText(c.ProviderSID), c.NextAttemptAt, data, c.ID, c.Version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return switchboard.CallChanged(c.ID)
		}
		for _, ev := range evs {
			if _, err := tx.Exec(ctx, qInsertAppEvent, appEventArgs(ev)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("update call", err)
	}
	c.Version++
	return nil
}

// ClaimCalls leases calls due to be placed; see switchboard.CallStore.
func (db *DB) ClaimCalls(ctx context.Context, owner string, now, until time.Time, limit int) ([]*switchboard.Call, error) {
	rows, err := db.pool.Query(ctx, qClaimCalls, owner, until, now, limit)
	out, err := collect(rows, err, scanCall)
	if err != nil {
		return nil, wrap("claim calls", err)
	}
	return out, nil
}

// ReleaseCall drops owner's lease on a call.
func (db *DB) ReleaseCall(ctx context.Context, id, owner string) error {
	if _, err := db.pool.Exec(ctx, qReleaseCall, id, owner); err != nil {
		return wrap("release call", err)
	}
	return nil
}

// CallQueue counts the calls waiting to be placed; see switchboard.CallStore.
func (db *DB) CallQueue(ctx context.Context, now time.Time) (switchboard.CallQueueStats, error) {
	var q switchboard.CallQueueStats
	var oldest *time.Time
	if err := db.pool.QueryRow(ctx, qCallQueue, now).Scan(&q.Ready, &q.Deferred, &oldest); err != nil {
		return q, wrap("call queue", err)
	}
	if oldest != nil {
		t := oldest.UTC()
		q.OldestDueAt = &t
	}
	return q, nil
}
