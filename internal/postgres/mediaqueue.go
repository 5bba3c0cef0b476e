package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	switchboard "github.com/switchboard-gw/switchboard"
)

const (
	mediaColsM = `m.provider_sid, m.idx, m.inbound_id, m.url, m.declared_type, m.done, m.attempts, m.next_attempt_at,
		m.last_error, m.created_at`
	qEnqueueMedia = `INSERT INTO media_downloads (provider_sid, idx, inbound_id, url, declared_type, next_attempt_at, created_at, updated_at)
		SELECT $1, u.ord - 1, COALESCE((SELECT id FROM inbound_messages WHERE provider_sid = $1), $2), u.url, COALESCE(t.typ, ''), $5, $5, $5
		FROM unnest($3::text[]) WITH ORDINALITY AS u (url, ord)
		LEFT JOIN unnest($4::text[]) WITH ORDINALITY AS t (typ, ord) ON t.ord = u.ord
		ON CONFLICT (provider_sid, idx) DO NOTHING`
	qClaimMedia = `WITH p AS MATERIALIZED (
			SELECT provider_sid, idx FROM media_downloads
			WHERE NOT done AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY next_attempt_at LIMIT $4
			FOR UPDATE SKIP LOCKED)
		, c AS (
			UPDATE media_downloads m SET lease_owner = $1, lease_until = $2, attempts = m.attempts + 1, updated_at = $3
			FROM p WHERE m.provider_sid = p.provider_sid AND m.idx = p.idx
			RETURNING ` + mediaColsM + `)
		SELECT c.*, COALESCE(i.channel, ''), COALESCE(i.from_number, ''), COALESCE(i.to_number, '')
		FROM c LEFT JOIN inbound_messages i ON i.provider_sid = c.provider_sid`
	qFinishMedia = `UPDATE media_downloads SET done = $1, next_attempt_at = CASE WHEN $1 THEN next_attempt_at ELSE $2 END,
		last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4
		WHERE provider_sid = $5 AND idx = $6 AND lease_owner = $7 AND NOT done`
	qReleaseMedia = `UPDATE media_downloads SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`
)

// EnqueueMedia queues the downloads of in's attachments; see switchboard.MediaQueueStore.
func (db *DB) EnqueueMedia(ctx context.Context, in *switchboard.InboundMessage, now time.Time) (int, error) {
	if err := switchboard.CheckInbound(in); err != nil {
		return 0, err
	}
	if len(in.MediaURLs) == 0 {
		return 0, nil
	}
	types := in.MediaContentTypes
	if types == nil {
		types = []string{}
	}
	tag, err := db.pool.Exec(ctx, qEnqueueMedia, in.ProviderSID, in.ID, in.MediaURLs, types, now)
	if err != nil {
		return 0, wrap("enqueue media", err)
	}
	return int(tag.RowsAffected()), nil
}

// ClaimMedia leases due media downloads; see switchboard.MediaQueueStore.
func (db *DB) ClaimMedia(ctx context.Context, p switchboard.MediaClaim) ([]*switchboard.MediaDownload, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, qClaimMedia, p.Owner, p.LeaseUntil, p.Now, p.Limit)
	if err != nil {
		return nil, wrap("claim media", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*switchboard.MediaDownload, error) {
		var d switchboard.MediaDownload
		var channel string
		if err := r.Scan(&d.ProviderSID, &d.Index, &d.InboundID, &d.URL, &d.DeclaredType, &d.Done,
			&d.Attempts, &d.NextAttemptAt, &d.LastError, &d.CreatedAt, &channel, &d.From, &d.To); err != nil {
			return nil, err
		}
		d.Channel, d.NextAttemptAt, d.CreatedAt = switchboard.Channel(channel), utc(d.NextAttemptAt), utc(d.CreatedAt)
		return &d, nil
	})
	if err != nil {
		return nil, wrap("claim media", err)
	}
	switchboard.SortClaimedMedia(out)
	return out, nil
}

// FinishMedia records a download attempt's outcome; see switchboard.MediaQueueStore.
func (db *DB) FinishMedia(ctx context.Context, r switchboard.MediaResult) error {
	if err := switchboard.CheckMediaResult(r); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, qFinishMedia, r.Done, r.RetryAt, r.Error, r.At, r.ProviderSID, r.Index, r.Owner)
	if err != nil {
		return wrap("finish media", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrMediaLeaseLost(r.ProviderSID, r.Index, r.Owner)
	}
	return nil
}

// ReleaseMedia drops owner's media leases.
func (db *DB) ReleaseMedia(ctx context.Context, owner string) (int, error) {
	tag, err := db.pool.Exec(ctx, qReleaseMedia, owner)
	if err != nil {
		return 0, wrap("release media", err)
	}
	return int(tag.RowsAffected()), nil
}
