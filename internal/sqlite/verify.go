package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertVerification = `INSERT INTO verifications (` + sqlstore.VerificationCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertVerificationMetadata = `INSERT INTO verification_metadata (tenant, key, value, verification_id) VALUES (?, ?, ?, ?)`
	qUpdateVerification         = `UPDATE verifications SET status = ?, channel = ?, provider_sid = ?, sends = ?, checks = ?,
		send_attempts = ?, fallback_at = ?, expires_at = ?, code_hash = ?, code_salt = ?, code_sealed = ?,
		version = version + 1, updated_at = ? WHERE id = ? AND version = ?`
	qVerificationByID = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE id = ?`
	qPendingVerifyTo  = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE phone = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT 1`
	qPendingVerifyOf  = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE phone = ? AND tenant = ? AND status = 'pending' AND expires_at > ?`
	qDueVerifications = `SELECT ` + sqlstore.VerificationCols + `, redacted_at FROM verifications WHERE status = 'pending' AND (fallback_at <= ? OR expires_at <= ?) ORDER BY created_at LIMIT ?`
	qRateGet          = `SELECT hits FROM verify_rate_hits WHERE key = ? AND window_start = ?`
	qRateHit          = `INSERT INTO verify_rate_hits (key, window_start, window_end, hits) VALUES (?, ?, ?, 1) ON CONFLICT (key, window_start) DO UPDATE SET hits = hits + 1`
	qRatePrune        = `DELETE FROM verify_rate_hits WHERE key = ? AND window_end <= ?`
	qInsertRefusal    = `INSERT INTO verify_refusals (` + sqlstore.RefusalCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertBlock      = `INSERT INTO verify_blocks (prefix, reason, until, at) VALUES (?, ?, ?, ?) ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason, until = max(until, excluded.until), at = excluded.at`
	qPrefixBlocked    = `SELECT prefix, reason, until, at FROM verify_blocks WHERE prefix = ? AND until > ?`
)

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
	err = db.write(ctx, func(t *wtx) error {
		_, err := t.exec(qInsertVerification, v.ID, v.Status, v.To, v.Channel, v.Locale, v.Country, v.UserRef, v.ClientIP,
			v.Backend, v.ProviderSID, v.CodeLength, v.Sends, v.Checks, v.MaxSends, v.MaxChecks, attempts,
			microsPtr(v.FallbackAt), micros(v.ExpiresAt), v.APIKeyID, v.CodeHash, v.CodeSalt, v.CodeSealed, 1,
			micros(v.CreatedAt), micros(v.UpdatedAt), v.Tenant, meta)
		// verifications_pending_phone (phone, tenant) or verifications_pending_provider_sid.
		if isUnique(err) && (strings.Contains(err.Error(), "verifications.phone") || strings.Contains(err.Error(), "verifications.provider_sid")) {
			return switchboard.ErrVerificationPending(v.To)
		} else if isUnique(err) {
			return switchboard.ErrVerificationExists(v.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert verification: %w", err)
		}
		for k, val := range v.Metadata {
			if _, err := t.exec(qInsertVerificationMetadata, v.Tenant, k, val, v.ID); err != nil {
				return fmt.Errorf("sqlite: insert verification metadata: %w", err)
			}
		}
		for _, ev := range events {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		return nil
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
	err = db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qUpdateVerification, v.Status, v.Channel, v.ProviderSID, v.Sends, v.Checks, attempts,
			microsPtr(v.FallbackAt), micros(v.ExpiresAt), v.CodeHash, v.CodeSalt, v.CodeSealed, micros(v.UpdatedAt),
			v.ID, v.Version)
		if err != nil {
			return fmt.Errorf("sqlite: update verification: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := t.queryRow(`SELECT 1 FROM verifications WHERE id = ?`, v.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return switchboard.ErrVerificationNotFound(v.ID)
			}
			return switchboard.ErrVerificationConflict(v.ID)
		}
		for _, ev := range events {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		v.Version++
	}
	return err
}

func scanVerification(r scanner) (*switchboard.Verification, error) {
	var v switchboard.Verification
	var attempts string
	var fallback sql.NullInt64
	var expires, created, updated int64
	var redacted sql.NullInt64
	var meta sql.NullString
	if err := r.Scan(&v.ID, &v.Status, &v.To, &v.Channel, &v.Locale, &v.Country, &v.UserRef, &v.ClientIP, &v.Backend,
		&v.ProviderSID, &v.CodeLength, &v.Sends, &v.Checks, &v.MaxSends, &v.MaxChecks, &attempts, &fallback, &expires,
		&v.APIKeyID, &v.CodeHash, &v.CodeSalt, &v.CodeSealed, &v.Version, &created, &updated, &v.Tenant, &meta, &redacted); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attempts), &v.SendAttempts); err != nil {
		return nil, fmt.Errorf("sqlite: verification %s: send_attempts: %w", v.ID, err)
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &v.Metadata); err != nil {
			return nil, fmt.Errorf("sqlite: verification %s: metadata: %w", v.ID, err)
		}
	}
	v.FallbackAt, v.RedactedAt = fromNullMicros(fallback), fromNullMicros(redacted)
	v.ExpiresAt, v.CreatedAt, v.UpdatedAt = fromMicros(expires), fromMicros(created), fromMicros(updated)
	return &v, nil
}

// GetVerification returns a verification, or ENOTFOUND.
func (db *DB) GetVerification(ctx context.Context, id string) (*switchboard.Verification, error) {
	v, err := scanVerification(db.r.QueryRowContext(ctx, qVerificationByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrVerificationNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get verification: %w", err)
	}
	return v, nil
}

// PendingVerification returns tenant's pending, unexpired verification of to (an empty tenant:
// the newest of every tenant's), or nil.
func (db *DB) PendingVerification(ctx context.Context, tenant, to string, now time.Time) (*switchboard.Verification, error) {
	q, args := qPendingVerifyTo, []any{to, micros(now)}
	if tenant != "" {
		q, args = qPendingVerifyOf, []any{to, tenant, micros(now)}
	}
	v, err := scanVerification(db.r.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: pending verification: %w", err)
	}
	return v, nil
}

// DueVerifications returns pending verifications due for a fallback look or for expiry.
func (db *DB) DueVerifications(ctx context.Context, now time.Time, limit int) ([]*switchboard.Verification, error) {
	rows, err := db.r.QueryContext(ctx, qDueVerifications, micros(now), micros(now), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due verifications: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Verification
	for rows.Next() {
		v, err := scanVerification(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: due verifications: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// HitRates counts a hit on every counter unless one is at its limit.
func (db *DB) HitRates(ctx context.Context, hits []switchboard.RateHit, now time.Time) (switchboard.RateResult, error) {
	res := switchboard.RateResult{Refused: -1, Counts: make([]int, len(hits))}
	if err := switchboard.CheckRateHits(hits); err != nil {
		return res, err
	}
	err := db.write(ctx, func(t *wtx) error {
		counts := make([]int, len(hits))
		for i, h := range hits {
			start, _ := switchboard.RateWindow(now, h.Window)
			if _, err := t.exec(qRatePrune, h.Key, micros(now)); err != nil {
				return fmt.Errorf("sqlite: prune rate counters: %w", err)
			}
			err := t.queryRow(qRateGet, h.Key, micros(start)).Scan(&counts[i])
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: read rate counter: %w", err)
			}
		}
		if res = switchboard.JudgeRateHits(hits, counts, now); res.Refused >= 0 {
			return nil
		}
		for _, h := range hits {
			if h.Peek {
				continue
			}
			start, end := switchboard.RateWindow(now, h.Window)
			if _, err := t.exec(qRateHit, h.Key, micros(start), micros(end)); err != nil {
				return fmt.Errorf("sqlite: count rate hit: %w", err)
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
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(qInsertRefusal, r.ID, r.Reason, r.Detail, r.To, r.Country, r.UserRef, r.ClientIP, r.VerificationID,
			r.RetryAfterSeconds, micros(r.At), r.Tenant); err != nil {
			return fmt.Errorf("sqlite: insert refusal: %w", err)
		}
		for _, ev := range events {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListRefusals lists refusals newest first.
func (db *DB) ListRefusals(ctx context.Context, f switchboard.RefusalFilter) ([]*switchboard.Refusal, string, error) {
	limit := sqlstore.LimitOr(f.Limit, 100)
	var w sqlstore.Where
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
	rows, err := db.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, func(s scanner) (*switchboard.Refusal, error) {
		var r switchboard.Refusal
		var at int64
		err := s.Scan(&r.ID, &r.Reason, &r.Detail, &r.To, &r.Country, &r.UserRef, &r.ClientIP, &r.VerificationID,
			&r.RetryAfterSeconds, &at, &r.Tenant)
		r.At = fromMicros(at)
		return &r, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list refusals: %w", err)
	}
	out, next := sqlstore.Page(out, limit, func(r *switchboard.Refusal) string { return r.ID })
	return out, next, nil
}

// BlockPrefix records or extends a blocked prefix with its events.
func (db *DB) BlockPrefix(ctx context.Context, b switchboard.PrefixBlock, events []*switchboard.AppEvent) error {
	if err := switchboard.CheckBlock(b); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(qUpsertBlock, b.Prefix, b.Reason, micros(b.Until), micros(b.At)); err != nil {
			return fmt.Errorf("sqlite: block prefix: %w", err)
		}
		for _, ev := range events {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// PrefixBlocked returns the block of prefix in force at now, or nil.
func (db *DB) PrefixBlocked(ctx context.Context, prefix string, now time.Time) (*switchboard.PrefixBlock, error) {
	var b switchboard.PrefixBlock
	var until, at int64
	err := db.r.QueryRowContext(ctx, qPrefixBlocked, prefix, micros(now)).Scan(&b.Prefix, &b.Reason, &until, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: prefix blocked: %w", err)
	}
	b.Until, b.At = fromMicros(until), fromMicros(at)
	return &b, nil
}

// ListVerifications returns verifications newest first (IDs are time-ordered), filtered by f;
// with a metadata pair, from verification_metadata (see sqlstore.VerificationsQuery).
func (db *DB) ListVerifications(ctx context.Context, f switchboard.VerificationFilter) ([]*switchboard.Verification, string, error) {
	limit := sqlstore.LimitOr(f.Limit, 100)
	q, args := sqlstore.VerificationsQuery(&sqlstore.Where{}, f, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanVerification)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list verifications: %w", err)
	}
	out, next := sqlstore.Page(out, limit, func(v *switchboard.Verification) string { return v.ID })
	return out, next, nil
}
