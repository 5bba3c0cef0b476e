package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// qInsertConsent appends a consent record and its consent.changed event ($8…$11), whose
	// payload gets the record's ID.
	qInsertConsent = `WITH c AS (
			INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at, tenant)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $12) RETURNING id),
		e AS (
			INSERT INTO app_events (id, type, version, at, data, tenant)
			SELECT $8::text, $9::text, $10::integer, $7::timestamptz, jsonb_set($11::jsonb, '{record_id}', to_jsonb(c.id)), $12::text FROM c)
		SELECT id FROM c`
	qLatestConsent = `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records
		WHERE phone = $1 AND scope = ANY($2) ORDER BY at DESC, id DESC LIMIT 1`
	qConsentHistory = `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE phone = $1 ORDER BY at, id`
)

// RecordConsent appends a change to a recipient's consent history.
func (db *DB) RecordConsent(ctx context.Context, c *switchboard.ConsentRecord) error {
	return db.RecordConsents(ctx, []*switchboard.ConsentRecord{c})
}

// RecordConsents records every change of cs in one transaction, or none; see switchboard.Store.
func (db *DB) RecordConsents(ctx context.Context, cs []*switchboard.ConsentRecord) error {
	evs := make([]*switchboard.AppEvent, len(cs))
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return err
		}
		c.Tenant = switchboard.TenantOr(c.Tenant) // who recorded it; its effect is the number's
		ev, err := switchboard.ConsentEvent(c)
		if err != nil {
			return err
		}
		evs[i] = ev
	}
	ids := make([]int64, len(cs))
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for i, c := range cs {
			ev := evs[i]
			if err := tx.QueryRow(ctx, qInsertConsent, c.Phone, c.Scope, c.State, c.Source, c.Evidence, c.Actor, c.At,
				ev.ID, ev.Type, ev.Version, string(ev.Data), c.Tenant).Scan(&ids[i]); err != nil {
				return wrap("record consent", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, c := range cs {
		c.ID = ids[i]
	}
	return nil
}

// LatestConsent returns the most recent record for phone among scopes, or nil.
func (db *DB) LatestConsent(ctx context.Context, phone string, scopes []string) (*switchboard.ConsentRecord, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	c, err := scanConsent(db.pool.QueryRow(ctx, qLatestConsent, phone, scopes))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("latest consent", err)
	}
	return c, nil
}

// ConsentHistory returns every record for phone, oldest first.
func (db *DB) ConsentHistory(ctx context.Context, phone string) ([]*switchboard.ConsentRecord, error) {
	rows, err := db.pool.Query(ctx, qConsentHistory, phone)
	out, err := collect(rows, err, scanConsent)
	if err != nil {
		return nil, wrap("consent history", err)
	}
	return out, nil
}

func scanConsent(r sqlstore.Scanner) (*switchboard.ConsentRecord, error) {
	var c switchboard.ConsentRecord
	if err := r.Scan(&c.ID, &c.Phone, &c.Scope, &c.State, &c.Source, &c.Evidence, &c.Actor, &c.At, &c.Tenant); err != nil {
		return nil, err
	}
	c.At = utc(c.At)
	return &c, nil
}

// ListConsent returns records in [since, until) after afterID, in ID order.
func (db *DB) ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*switchboard.ConsentRecord, error) {
	q := `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE id > $1`
	args := []any{afterID}
	if !since.IsZero() {
		args = append(args, since)
		q += fmt.Sprintf(` AND at >= $%d`, len(args))
	}
	if !until.IsZero() {
		args = append(args, until)
		q += fmt.Sprintf(` AND at < $%d`, len(args))
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, scanConsent)
	if err != nil {
		return nil, wrap("list consent", err)
	}
	return out, nil
}
