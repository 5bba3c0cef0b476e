package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertTenant = `INSERT INTO tenants (` + sqlstore.TenantCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qTenantByID   = `SELECT ` + sqlstore.TenantCols + ` FROM tenants WHERE id = ?`
	qListTenants  = `SELECT ` + sqlstore.TenantCols + ` FROM tenants ORDER BY id`
	qUpdateTenant = `UPDATE tenants SET name = ?, environment = ?, staging_mode = ?, allowed_recipients = ?,
		daily_messages = ?, daily_segments = ?, daily_spend_cents = ?, updated_at = ? WHERE id = ?`
)

func scanTenant(s scanner) (*switchboard.Tenant, error) {
	var (
		t                switchboard.Tenant
		allowed          sql.NullString
		created, updated int64
	)
	if err := s.Scan(&t.ID, &t.Name, &t.Environment, &t.StagingMode, &allowed, &t.DailyMessages, &t.DailySegments,
		&t.DailySpendCents, &created, &updated); err != nil {
		return nil, err
	}
	if allowed.Valid {
		if err := json.Unmarshal([]byte(allowed.String), &t.AllowedRecipients); err != nil {
			return nil, fmt.Errorf("sqlite: tenant %s: allowed_recipients: %w", t.ID, err)
		}
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}

// CreateTenant stores a new tenant; see switchboard.TenantStore.
func (db *DB) CreateTenant(ctx context.Context, tn *switchboard.Tenant) error {
	if err := tn.Validate(); err != nil {
		return err
	}
	allowed, err := sqlstore.JSONList(tn.AllowedRecipients)
	if err != nil {
		return fmt.Errorf("sqlite: tenant: %w", err)
	}
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(qInsertTenant, tn.ID, tn.Name, tn.Environment, tn.StagingMode, allowed, tn.DailyMessages,
			tn.DailySegments, tn.DailySpendCents, micros(tn.CreatedAt), micros(tn.UpdatedAt))
		if isUnique(err) {
			return switchboard.ErrTenantExists(tn.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert tenant: %w", err)
		}
		return nil
	})
}

// GetTenant returns a tenant, or ENOTFOUND.
func (db *DB) GetTenant(ctx context.Context, id string) (*switchboard.Tenant, error) {
	tn, err := scanTenant(db.r.QueryRowContext(ctx, qTenantByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrTenantNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: tenant: %w", err)
	}
	return tn, nil
}

// ListTenants lists every tenant by ID.
func (db *DB) ListTenants(ctx context.Context) ([]*switchboard.Tenant, error) {
	rows, err := db.r.QueryContext(ctx, qListTenants)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	return out, nil
}

// UpdateTenant replaces a tenant's record; see switchboard.TenantStore.
func (db *DB) UpdateTenant(ctx context.Context, tn *switchboard.Tenant) error {
	if err := tn.Validate(); err != nil {
		return err
	}
	allowed, err := sqlstore.JSONList(tn.AllowedRecipients)
	if err != nil {
		return fmt.Errorf("sqlite: tenant: %w", err)
	}
	return db.write(ctx, func(t *wtx) error {
		r, err := t.exec(qUpdateTenant, tn.Name, tn.Environment, tn.StagingMode, allowed, tn.DailyMessages,
			tn.DailySegments, tn.DailySpendCents, micros(tn.UpdatedAt), tn.ID)
		if err != nil {
			return fmt.Errorf("sqlite: update tenant: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: update tenant: %w", err)
		} else if n == 0 {
			return switchboard.ErrTenantNotFound(tn.ID)
		}
		return nil
	})
}
