package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertConsent = `INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at, tenant)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qConsentHistory = `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE phone = ? ORDER BY at, id`

	// LatestConsent runs on every accept and before every send, nearly always with one scope
	// (the default pool is "*") or two (a pool and "*"): those two shapes are prepared at Open.
	qLatestConsent1 = `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE phone = ? AND scope IN (?)
		ORDER BY at DESC, id DESC LIMIT 1`
	qLatestConsent2 = `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE phone = ? AND scope IN (?, ?)
		ORDER BY at DESC, id DESC LIMIT 1`
)

// RecordConsent appends a change to a recipient's consent history.
func (db *DB) RecordConsent(ctx context.Context, c *switchboard.ConsentRecord) error {
	return db.RecordConsents(ctx, []*switchboard.ConsentRecord{c})
}

// RecordConsents records every change of cs in one transaction, or none; see switchboard.Store.
func (db *DB) RecordConsents(ctx context.Context, cs []*switchboard.ConsentRecord) error {
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	for _, c := range cs {
		c.Tenant = switchboard.TenantOr(c.Tenant) // who recorded it; its effect is the number's
	}
	ids := make([]int64, len(cs))
	err := db.write(ctx, func(t *wtx) error {
		for i, c := range cs {
			if err := t.queryRow(qInsertConsent, c.Phone, c.Scope, c.State, c.Source, c.Evidence, c.Actor, micros(c.At), c.Tenant).Scan(&ids[i]); err != nil {
				return fmt.Errorf("sqlite: record consent: %w", err)
			}
			cc := *c
			cc.ID = ids[i]
			ev, err := switchboard.ConsentEvent(&cc)
			if err != nil {
				return err
			}
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, c := range cs {
		c.ID = ids[i] // set only once committed: a failed import leaves the records as given
	}
	return nil
}

// LatestConsent returns the most recent record for phone among scopes, or nil.
func (db *DB) LatestConsent(ctx context.Context, phone string, scopes []string) (*switchboard.ConsentRecord, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	var row *sql.Row
	switch len(scopes) {
	case 1:
		row = db.rstmts[qLatestConsent1].QueryRowContext(ctx, phone, scopes[0])
	case 2:
		row = db.rstmts[qLatestConsent2].QueryRowContext(ctx, phone, scopes[0], scopes[1])
	default:
		args := []any{phone}
		for _, s := range scopes {
			args = append(args, s)
		}
		q := `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE phone = ? AND scope IN (?` +
			strings.Repeat(", ?", len(scopes)-1) + `) ORDER BY at DESC, id DESC LIMIT 1`
		row = db.r.QueryRowContext(ctx, q, args...)
	}
	c, err := scanConsent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: latest consent: %w", err)
	}
	return c, nil
}

// ConsentHistory returns every record for phone, oldest first.
func (db *DB) ConsentHistory(ctx context.Context, phone string) ([]*switchboard.ConsentRecord, error) {
	rows, err := db.r.QueryContext(ctx, qConsentHistory, phone)
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent history: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.ConsentRecord
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: consent history: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanConsent(s scanner) (*switchboard.ConsentRecord, error) {
	var (
		c  switchboard.ConsentRecord
		at int64
	)
	if err := s.Scan(&c.ID, &c.Phone, &c.Scope, &c.State, &c.Source, &c.Evidence, &c.Actor, &at, &c.Tenant); err != nil {
		return nil, err
	}
	c.At = fromMicros(at)
	return &c, nil
}

// ListConsent returns records in [since, until) after afterID, in ID order.
func (db *DB) ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*switchboard.ConsentRecord, error) {
	q := `SELECT ` + sqlstore.ConsentCols + ` FROM consent_records WHERE id > ?`
	args := []any{afterID}
	if !since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, micros(since))
	}
	if !until.IsZero() {
		q += ` AND at < ?`
		args = append(args, micros(until))
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, sqlstore.Limit(limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list consent: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.ConsentRecord
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list consent: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
