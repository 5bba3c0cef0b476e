package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Redact removes bodies and raw payloads older than before (see switchboard.Store).
func (db *DB) Redact(ctx context.Context, before, at time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// SKIP LOCKED: nodes running retention at once share the work instead of waiting.
		tag, err := tx.Exec(ctx, `WITH r AS (
				SELECT id FROM messages WHERE redacted_at IS NULL AND created_at < $1
					AND status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled', 'blocked', 'expired')
				ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED),
			e AS (UPDATE message_events SET payload = NULL WHERE payload IS NOT NULL AND message_id IN (SELECT id FROM r))
			UPDATE messages SET body = '', media_urls = NULL, whatsapp = whatsapp - 'content_variables', redacted_at = $2
			WHERE id IN (SELECT id FROM r)`, before, at, limit)
		if err != nil {
			return wrap("redact messages", err)
		}
		n = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `UPDATE inbound_messages SET body = '', payload = NULL, media_urls = NULL
			WHERE received_at < $1 AND (body <> '' OR payload IS NOT NULL)`, before); err != nil {
			return wrap("redact inbound", err)
		}
		// Pending callbacks keep their payload: it goes on the timeline when they are applied.
		if _, err := tx.Exec(ctx, `UPDATE webhook_events SET payload = NULL
			WHERE received_at < $1 AND applied AND payload IS NOT NULL`, before); err != nil {
			return wrap("redact webhook events", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE app_events SET data = jsonb_set(jsonb_set(data, '{body}', '""'), '{media}', '[]'), redacted_at = $2
			WHERE type = 'message.received' AND redacted_at IS NULL AND at < $1`, before, at); err != nil {
			return wrap("redact events", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE app_events SET data = jsonb_set(data, '{inputs}', '[]'), redacted_at = $2
			WHERE type = 'call.completed' AND redacted_at IS NULL AND at < $1`, before, at); err != nil {
			return wrap("redact call events", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE verifications SET code_hash = '', code_salt = '', code_sealed = '', redacted_at = $2
			WHERE redacted_at IS NULL AND status <> 'pending' AND created_at < $1`, before, at); err != nil {
			return wrap("redact verifications", err)
		}
		k, err := redactCalls(ctx, tx, before, at, limit)
		n += k
		return err
	})
	return n, err
}

// PruneRefusals deletes up to limit verification refusals recorded before before; see
// switchboard.RetentionStore. Of the limit oldest refusals by ID (UUIDv7: the oldest recorded)
// it deletes those before the cutoff: at most limit rows of the primary key are read, with no
// index on the time, and nodes pruning at once skip each other's rows.
func (db *DB) PruneRefusals(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM verify_refusals WHERE id IN (
			SELECT id FROM verify_refusals ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AND at < $2`, limit, before)
	if err != nil {
		return 0, wrap("prune refusals", err)
	}
	return int(tag.RowsAffected()), nil
}

// redactCalls redacts up to limit finished calls created before before (switchboard.Call.Redact).
func redactCalls(ctx context.Context, tx pgx.Tx, before, at time.Time, limit int) (int, error) {
	rows, err := tx.Query(ctx, `SELECT id, data, version FROM calls WHERE redacted_at IS NULL AND created_at < $1
		AND status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled') ORDER BY created_at LIMIT $2
		FOR UPDATE SKIP LOCKED`, before, limit)
	if err != nil {
		return 0, wrap("redact calls", err)
	}
	var calls []*switchboard.Call
	for rows.Next() {
		var id string
		var data []byte
		var version int
		if err := rows.Scan(&id, &data, &version); err != nil {
			rows.Close()
			return 0, wrap("redact calls", err)
		}
		c, err := switchboard.DecodeCall(data, version)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres: redact call %s: %w", id, err)
		}
		calls = append(calls, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrap("redact calls", err)
	}
	for _, c := range calls {
		c.Redact(at)
		data, err := switchboard.EncodeCall(c)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `UPDATE calls SET data = $1, redacted_at = $2, version = version + 1 WHERE id = $3 AND version = $4`,
			data, at, c.ID, c.Version); err != nil {
			return 0, wrap("redact call", err)
		}
	}
	return len(calls), nil
}
