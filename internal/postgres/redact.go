package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
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
		return nil
	})
	return n, err
}
