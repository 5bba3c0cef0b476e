package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

const (
	mediaCols     = `provider_sid, idx, inbound_id, url, declared_type, done, attempts, next_attempt_at, last_error, created_at`
	qEnqueueMedia = `INSERT INTO media_downloads (provider_sid, idx, inbound_id, url, declared_type, next_attempt_at, created_at, updated_at)
		VALUES (?1, ?2, COALESCE((SELECT id FROM inbound_messages WHERE provider_sid = ?1), ?3), ?4, ?5, ?6, ?6, ?6)
		ON CONFLICT (provider_sid, idx) DO NOTHING`
	qMediaInbound = `SELECT channel, from_number, to_number FROM inbound_messages WHERE provider_sid = ?`
	qClaimMedia   = `UPDATE media_downloads SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
		WHERE (provider_sid, idx) IN (
			SELECT provider_sid, idx FROM media_downloads
			WHERE done = 0 AND next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
			ORDER BY next_attempt_at LIMIT ?4)
		RETURNING ` + mediaCols
	qFinishMedia = `UPDATE media_downloads SET done = ?1, next_attempt_at = CASE WHEN ?1 = 1 THEN next_attempt_at ELSE ?2 END,
		last_error = ?3, lease_owner = NULL, lease_until = NULL, updated_at = ?4
		WHERE provider_sid = ?5 AND idx = ?6 AND lease_owner = ?7 AND done = 0`
	qReleaseMedia = `UPDATE media_downloads SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`
)

// EnqueueMedia queues the downloads of in's attachments; see switchboard.MediaQueueStore.
func (db *DB) EnqueueMedia(ctx context.Context, in *switchboard.InboundMessage, now time.Time) (int, error) {
	if err := switchboard.CheckInbound(in); err != nil {
		return 0, err
	}
	if len(in.MediaURLs) == 0 {
		return 0, nil
	}
	added := 0
	err := db.write(ctx, func(t *wtx) error {
		added = 0
		for i, u := range in.MediaURLs {
			declared := ""
			if i < len(in.MediaContentTypes) {
				declared = in.MediaContentTypes[i]
			}
			r, err := t.exec(qEnqueueMedia, in.ProviderSID, i, in.ID, u, declared, micros(now))
			if err != nil {
				return fmt.Errorf("sqlite: enqueue media: %w", err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: enqueue media: %w", err)
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

// ClaimMedia leases due media downloads; see switchboard.MediaQueueStore.
func (db *DB) ClaimMedia(ctx context.Context, p switchboard.MediaClaim) ([]*switchboard.MediaDownload, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	var out []*switchboard.MediaDownload
	err := db.write(ctx, func(t *wtx) error {
		out = out[:0]
		rows, err := t.query(qClaimMedia, p.Owner, micros(p.LeaseUntil), micros(p.Now), p.Limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim media: %w", err)
		}
		for rows.Next() {
			d, err := scanMedia(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim media: %w", err)
			}
			out = append(out, d)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: claim media: %w", err)
		}
		for _, d := range out {
			var channel string
			err := t.queryRow(qMediaInbound, d.ProviderSID).Scan(&channel, &d.From, &d.To)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: claim media: inbound %s: %w", d.ProviderSID, err)
			}
			d.Channel = switchboard.Channel(channel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switchboard.SortClaimedMedia(out)
	return out, nil
}

// FinishMedia records a download attempt's outcome; see switchboard.MediaQueueStore.
func (db *DB) FinishMedia(ctx context.Context, r switchboard.MediaResult) error {
	if err := switchboard.CheckMediaResult(r); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qFinishMedia, r.Done, micros(r.RetryAt), r.Error, micros(r.At), r.ProviderSID, r.Index, r.Owner)
		if err != nil {
			return fmt.Errorf("sqlite: finish media: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: finish media: %w", err)
		} else if n == 0 {
			return switchboard.ErrMediaLeaseLost(r.ProviderSID, r.Index, r.Owner)
		}
		return nil
	})
}

// ReleaseMedia drops owner's media leases.
func (db *DB) ReleaseMedia(ctx context.Context, owner string) (int, error) {
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		r, err := t.exec(qReleaseMedia, owner)
		if err != nil {
			return fmt.Errorf("sqlite: release media: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}

func scanMedia(r interface{ Scan(...any) error }) (*switchboard.MediaDownload, error) {
	var (
		d             switchboard.MediaDownload
		next, created int64
	)
	if err := r.Scan(&d.ProviderSID, &d.Index, &d.InboundID, &d.URL, &d.DeclaredType, &d.Done,
		&d.Attempts, &next, &d.LastError, &created); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.CreatedAt = fromMicros(next), fromMicros(created)
	return &d, nil
}
