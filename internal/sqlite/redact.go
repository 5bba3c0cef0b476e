package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// qRedactable picks finished messages older than the cutoff that still hold a body, oldest
// first, through the messages_unredacted index.
const qRedactable = `SELECT id FROM messages WHERE redacted_at IS NULL AND created_at < ?
	AND status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled', 'blocked', 'expired')
	ORDER BY created_at LIMIT ?`

// Redact removes bodies and raw payloads older than before (see switchboard.Store).
func (db *DB) Redact(ctx context.Context, before, at time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := db.write(ctx, func(t *wtx) error {
		rows, err := t.query(qRedactable, micros(before), limit)
		if err != nil {
			return fmt.Errorf("sqlite: redact: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: redact: %w", err)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: redact: %w", err)
		}
		n = len(ids)
		if n > 0 {
			in := "(?" + strings.Repeat(", ?", n-1) + ")"
			if _, err := t.exec(`UPDATE messages SET body = '', media_urls = NULL, whatsapp = json_remove(whatsapp, '$.content_variables'), redacted_at = ? WHERE id IN `+in, append([]any{micros(at)}, ids...)...); err != nil {
				return fmt.Errorf("sqlite: redact messages: %w", err)
			}
			if _, err := t.exec(`UPDATE message_events SET payload = NULL WHERE payload IS NOT NULL AND message_id IN `+in, ids...); err != nil {
				return fmt.Errorf("sqlite: redact events: %w", err)
			}
		}
		if _, err := t.exec(`UPDATE inbound_messages SET body = '', payload = NULL, media_urls = NULL
			WHERE received_at < ? AND (body != '' OR payload IS NOT NULL)`, micros(before)); err != nil {
			return fmt.Errorf("sqlite: redact inbound: %w", err)
		}
		// Pending callbacks keep their payload: it goes on the timeline when they are applied.
		if _, err := t.exec(`UPDATE webhook_events SET payload = NULL
			WHERE received_at < ? AND applied = 1 AND payload IS NOT NULL`, micros(before)); err != nil {
			return fmt.Errorf("sqlite: redact webhook events: %w", err)
		}
		if _, err := t.exec(`UPDATE app_events SET data = json_set(data, '$.body', '', '$.media', json('[]')), redacted_at = ?
			WHERE type = 'message.received' AND redacted_at IS NULL AND at < ?`, micros(at), micros(before)); err != nil {
			return fmt.Errorf("sqlite: redact events: %w", err)
		}
		if _, err := t.exec(`UPDATE app_events SET data = json_set(data, '$.inputs', json('[]')), redacted_at = ?
			WHERE type = 'call.completed' AND redacted_at IS NULL AND at < ?`, micros(at), micros(before)); err != nil {
			return fmt.Errorf("sqlite: redact call events: %w", err)
		}
		if _, err := t.exec(`UPDATE verifications SET code_hash = '', code_salt = '', code_sealed = '', redacted_at = ?
			WHERE redacted_at IS NULL AND status <> 'pending' AND created_at < ?`, micros(at), micros(before)); err != nil {
			return fmt.Errorf("sqlite: redact verifications: %w", err)
		}
		k, err := redactCalls(t, before, at, limit)
		n += k
		return err
	})
	return n, err
}

// PruneRefusals deletes up to limit verification refusals recorded before before; see
// switchboard.RetentionStore.
func (db *DB) PruneRefusals(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		r, err := t.exec(qPruneRefusals, limit, micros(before))
		if err != nil {
			return fmt.Errorf("sqlite: prune refusals: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}

// qPruneRefusals deletes, of the limit oldest refusals by ID, those recorded before the cutoff.
// IDs are UUIDv7, so the oldest by ID are the oldest recorded: the statement reads at most limit
// rows of the primary key, needing no index on the time (a refusal whose node's clock put its ID
// out of order waits for the ones before it).
const qPruneRefusals = `DELETE FROM verify_refusals WHERE id IN (SELECT id FROM verify_refusals ORDER BY id LIMIT ?1) AND at < ?2`

// redactCalls redacts up to limit finished calls created before before (switchboard.Call.Redact).
func redactCalls(t *wtx, before, at time.Time, limit int) (int, error) {
	rows, err := t.query(`SELECT id, data, version FROM calls WHERE redacted_at IS NULL AND created_at < ?
		AND status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled') ORDER BY created_at LIMIT ?`, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: redact calls: %w", err)
	}
	var calls []*switchboard.Call
	for rows.Next() {
		var id, data string
		var version int
		if err := rows.Scan(&id, &data, &version); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: redact calls: %w", err)
		}
		c, err := switchboard.DecodeCall([]byte(data), version)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: redact call %s: %w", id, err)
		}
		calls = append(calls, c)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: redact calls: %w", err)
	}
	for _, c := range calls {
		c.Redact(at)
		data, err := switchboard.EncodeCall(c)
		if err != nil {
			return 0, err
		}
		if _, err := t.exec(`UPDATE calls SET data = ?, redacted_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
			string(data), micros(at), c.ID, c.Version); err != nil {
			return 0, fmt.Errorf("sqlite: redact call %s: %w", c.ID, err)
		}
	}
	return len(calls), nil
}
