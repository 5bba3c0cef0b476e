package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertVerification = `INSERT INTO verifications (` + sqlstore.VerificationCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 1, $23, $24, $25, $26)`
	// qInsertVerificationMetadata indexes the metadata of a new verification, one row per key.
	qInsertVerificationMetadata = `INSERT INTO verification_metadata (tenant, key, value, verification_id)
		SELECT $1, j.key, j.value, $2 FROM jsonb_each_text($3::jsonb) j`
	qUpdateVerification = `UPDATE verifications SET status = $1, channel = $2, provider_sid = $3, sends = $4, checks = $5,
		send_attempts = $6, fallback_at = $7, expires_at = $8, code_hash = $9, code_salt = $10, code_sealed = $11,
		version = version + 1, updated_at = $12 WHERE id = $13 AND version = $14`
	qVerificationByID = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE id = $1`
	qPendingVerifyTo  = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE phone = $1 AND status = 'pending' AND expires_at > $2 ORDER BY created_at DESC LIMIT 1`
	qPendingVerifyOf  = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE phone = $1 AND tenant = $2 AND status = 'pending' AND expires_at > $3`
	qDueVerifications = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE status = 'pending' AND (fallback_at <= $1 OR expires_at <= $1) ORDER BY created_at LIMIT $2`
	qRateEnsure       = `INSERT INTO verify_rate_hits (key, window_start, window_end, hits) VALUES ($1, $2, $3, 0) ON CONFLICT (key, window_start) DO NOTHING`
	qRateLock         = `SELECT hits FROM verify_rate_hits WHERE key = $1 AND window_start = $2 FOR UPDATE`
	qRateHit          = `UPDATE verify_rate_hits SET hits = hits + 1 WHERE key = $1 AND window_start = $2`
	qRatePrune        = `DELETE FROM verify_rate_hits WHERE key = $1 AND window_end <= $2`
	qInsertRefusal    = `INSERT INTO verify_refusals (` + sqlstore.RefusalCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	qUpsertBlock      = `INSERT INTO verify_blocks (prefix, reason, until, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason, until = greatest(verify_blocks.until, excluded.until), at = excluded.at`
	qPrefixBlocked = `SELECT prefix, reason, until, at FROM verify_blocks WHERE prefix = $1 AND until > $2`
)

func insertEvents(ctx context.Context, tx pgx.Tx, events []*switchboard.AppEvent) error {
	for _, ev := range events {
		if _, err := tx.Exec(ctx, qInsertAppEvent, appEventArgs(ev)...); err != nil {
			return wrap("insert event", err)
		}
	}
	return nil
}

// CreateVerification stores a new verification with its events.
func (db *DB) CreateVerification(ctx context.Context, v *switchboard.Verification, events []*switchboard.AppEvent) error {
	if err := switchboard.CheckVerification(v); err != nil {
		return err
	}
	switchboard.StampTenant(events, v.Tenant)
	attempts, err := sqlstore.JSONArray(v.SendAttempts)
	if err != nil {
		return err
	}
	meta, err := sqlstore.JSONMap(v.Metadata)
	if err != nil {
		return err
	}
	err = pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qInsertVerification, v.ID, v.Status, v.To, v.Channel, v.Locale, v.Country, v.UserRef, v.ClientIP,
			v.Backend, v.ProviderSID, v.CodeLength, v.Sends, v.Checks, v.MaxSends, v.MaxChecks, attempts,
			utcPtr(v.FallbackAt), v.ExpiresAt, v.APIKeyID, v.CodeHash, v.CodeSalt, v.CodeSealed, v.CreatedAt, v.UpdatedAt, v.Tenant, meta)
		if c, ok := uniqueViolation(err); ok && (c == "verifications_pending_phone" || c == "verifications_pending_provider_sid") {
			return switchboard.ErrVerificationPending(v.To)
		} else if ok {
			return switchboard.ErrVerificationExists(v.ID)
		} else if err != nil {
			return wrap("insert verification", err)
		}
		if meta != nil {
			if _, err := tx.Exec(ctx, qInsertVerificationMetadata, v.Tenant, v.ID, meta); err != nil {
				return wrap("insert verification metadata", err)
			}
		}
		return insertEvents(ctx, tx, events)
	})
	if err == nil {
		v.Version = 1
	}
	return err
}

// UpdateVerification stores v over its stored version.
func (db *DB) UpdateVerification(ctx context.Context, v *switchboard.Verification, events []*switchboard.AppEvent) error {
	if err := switchboard.CheckVerification(v); err != nil {
		return err
	}
	switchboard.StampTenant(events, v.Tenant)
	attempts, err := sqlstore.JSONArray(v.SendAttempts)
	if err != nil {
		return err
	}
	err = pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qUpdateVerification, v.Status, v.Channel, v.ProviderSID, v.Sends, v.Checks, attempts,
			utcPtr(v.FallbackAt), v.ExpiresAt, v.CodeHash, v.CodeSalt, v.CodeSealed, v.UpdatedAt, v.ID, v.Version)
		if err != nil {
			return wrap("update verification", err)
		}
		if tag.RowsAffected() == 0 {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM verifications WHERE id = $1`, v.ID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				return switchboard.ErrVerificationNotFound(v.ID)
			}
			return switchboard.ErrVerificationConflict(v.ID)
		}
		return insertEvents(ctx, tx, events)
	})
	if err == nil {
		v.Version++
	}
	return err
}

func scanVerification(r sqlstore.Scanner) (*switchboard.Verification, error) {
	var v switchboard.Verification
	var attempts, meta []byte
	if err := r.Scan(&v.ID, &v.Status, &v.To, &v.Channel, &v.Locale, &v.Country, &v.UserRef, &v.ClientIP, &v.Backend,
		&v.ProviderSID, &v.CodeLength, &v.Sends, &v.Checks, &v.MaxSends, &v.MaxChecks, &attempts, &v.FallbackAt, &v.ExpiresAt,
		&v.APIKeyID, &v.CodeHash, &v.CodeSalt, &v.CodeSealed, &v.Version, &v.CreatedAt, &v.UpdatedAt, &v.Tenant, &meta, &v.RedactedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(attempts, &v.SendAttempts); err != nil {
		return nil, fmt.Errorf("postgres: verification %s: send_attempts: %w", v.ID, err)
	}
	if meta != nil {
		if err := json.Unmarshal(meta, &v.Metadata); err != nil {
			return nil, fmt.Errorf("postgres: verification %s: metadata: %w", v.ID, err)
		}
	}
	for i := range v.SendAttempts {
		v.SendAttempts[i].At = v.SendAttempts[i].At.UTC()
	}
	v.FallbackAt, v.RedactedAt = utcPtr(v.FallbackAt), utcPtr(v.RedactedAt)
	v.ExpiresAt, v.CreatedAt, v.UpdatedAt = utc(v.ExpiresAt), utc(v.CreatedAt), utc(v.UpdatedAt)
	return &v, nil
}

// GetVerification returns a verification, or ENOTFOUND.
func (db *DB) GetVerification(ctx context.Context, id string) (*switchboard.Verification, error) {
	v, err := scanVerification(db.pool.QueryRow(ctx, qVerificationByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrVerificationNotFound(id)
	} else if err != nil {
		return nil, wrap("get verification", err)
	}
	return v, nil
}

// PendingVerification returns tenant's pending, unexpired verification of to (an empty tenant:
// the newest of every tenant's), or nil.
func (db *DB) PendingVerification(ctx context.Context, tenant, to string, now time.Time) (*switchboard.Verification, error) {
	q, args := qPendingVerifyTo, []any{to, now}
	if tenant != "" {
		q, args = qPendingVerifyOf, []any{to, tenant, now}
	}
	v, err := scanVerification(db.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("pending verification", err)
	}
	return v, nil
}

// DueVerifications returns pending verifications due for a fallback look or for expiry.
func (db *DB) DueVerifications(ctx context.Context, now time.Time, limit int) ([]*switchboard.Verification, error) {
	rows, err := db.pool.Query(ctx, qDueVerifications, now, max(limit, 1))
	out, err := collect(rows, err, scanVerification)
	if err != nil {
		return nil, wrap("due verifications", err)
	}
	return out, nil
}

// HitRates counts a hit on every counter unless one is at its limit. The counters' rows are
// locked in key order, so that concurrent requests on any node neither exceed a limit nor
// deadlock.
func (db *DB) HitRates(ctx context.Context, hits []switchboard.RateHit, now time.Time) (switchboard.RateResult, error) {
	res := switchboard.RateResult{Refused: -1, Counts: make([]int, len(hits))}
	if err := switchboard.CheckRateHits(hits); err != nil {
		return res, err
	}
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := hits[a].Key+"@"+strconv.FormatInt(int64(hits[a].Window), 10), hits[b].Key+"@"+strconv.FormatInt(int64(hits[b].Window), 10)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		counts := make([]int, len(hits))
		for _, i := range order {
			h := hits[i]
			start, end := switchboard.RateWindow(now, h.Window)
			if _, err := tx.Exec(ctx, qRatePrune, h.Key, now); err != nil {
				return wrap("prune rate counters", err)
			}
			if _, err := tx.Exec(ctx, qRateEnsure, h.Key, start, end); err != nil {
				return wrap("rate counter", err)
			}
			if err := tx.QueryRow(ctx, qRateLock, h.Key, start).Scan(&counts[i]); err != nil {
				return wrap("rate counter", err)
			}
		}
		if res = switchboard.JudgeRateHits(hits, counts, now); res.Refused >= 0 {
			return nil
		}
		for _, h := range hits {
			if h.Peek {
				continue
			}
			start, _ := switchboard.RateWindow(now, h.Window)
			if _, err := tx.Exec(ctx, qRateHit, h.Key, start); err != nil {
				return wrap("count rate hit", err)
			}
		}
		return nil
	})
	return res, err
}

// RecordRefusal stores a refusal with its events.
func (db *DB) RecordRefusal(ctx context.Context, r *switchboard.Refusal, events []*switchboard.AppEvent) error {
	if err := switchboard.CheckRefusal(r); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qInsertRefusal, r.ID, r.Reason, r.Detail, r.To, r.Country, r.UserRef, r.ClientIP, r.VerificationID,
			r.RetryAfterSeconds, r.At, r.Tenant); err != nil {
			return wrap("insert refusal", err)
		}
		return insertEvents(ctx, tx, events)
	})
}

// ListRefusals lists refusals newest first.
func (db *DB) ListRefusals(ctx context.Context, f switchboard.RefusalFilter) ([]*switchboard.Refusal, string, error) {
	limit := sqlstore.LimitOr(f.Limit, 100)
	w := sqlstore.Where{Numbered: true}
	if f.Tenant != "" || f.To != "" {
		// verify_refusals_phone leads with the tenant: every tenant's is read tenant by tenant.
		sqlstore.TenantIn(&w, "tenant", "verify_refusals", f.Tenant)
	}
	if f.To != "" {
		w.Add("phone = ?", f.To)
	}
	if f.Reason != "" {
		w.Add("reason = ?", f.Reason)
	}
	q, args := sqlstore.ListQuery(&w, `SELECT `+sqlstore.RefusalCols+` FROM verify_refusals`, "id", f.Cursor, limit)
	rows, err := db.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, func(s sqlstore.Scanner) (*switchboard.Refusal, error) {
		var r switchboard.Refusal
		err := s.Scan(&r.ID, &r.Reason, &r.Detail, &r.To, &r.Country, &r.UserRef, &r.ClientIP, &r.VerificationID,
			&r.RetryAfterSeconds, &r.At, &r.Tenant)
		r.At = utc(r.At)
		return &r, err
	})
	if err != nil {
		return nil, "", wrap("list refusals", err)
	}
	out, next := sqlstore.Page(out, limit, func(r *switchboard.Refusal) string { return r.ID })
	return out, next, nil
}

// BlockPrefix records or extends a blocked prefix with its events.
func (db *DB) BlockPrefix(ctx context.Context, b switchboard.PrefixBlock, events []*switchboard.AppEvent) error {
	if err := switchboard.CheckBlock(b); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qUpsertBlock, b.Prefix, b.Reason, b.Until, b.At); err != nil {
			return wrap("block prefix", err)
		}
		return insertEvents(ctx, tx, events)
	})
}

// PrefixBlocked returns the block of prefix in force at now, or nil.
func (db *DB) PrefixBlocked(ctx context.Context, prefix string, now time.Time) (*switchboard.PrefixBlock, error) {
	var b switchboard.PrefixBlock
	err := db.pool.QueryRow(ctx, qPrefixBlocked, prefix, now).Scan(&b.Prefix, &b.Reason, &b.Until, &b.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("prefix blocked", err)
	}
	b.Until, b.At = utc(b.Until), utc(b.At)
	return &b, nil
}

// ListVerifications returns verifications newest first (IDs are time-ordered), filtered by f;
// with a metadata pair, from verification_metadata (see sqlstore.VerificationsQuery).
func (db *DB) ListVerifications(ctx context.Context, f switchboard.VerificationFilter) ([]*switchboard.Verification, string, error) {
	limit := sqlstore.LimitOr(f.Limit, 100)
	q, args := sqlstore.VerificationsQuery(&sqlstore.Where{Numbered: true}, f, limit)
	rows, err := db.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, scanVerification)
	if err != nil {
		return nil, "", wrap("list verifications", err)
	}
	out, next := sqlstore.Page(out, limit, func(v *switchboard.Verification) string { return v.ID })
	return out, next, nil
}
