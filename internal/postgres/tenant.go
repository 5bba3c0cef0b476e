package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertTenant = `INSERT INTO tenants (` + sqlstore.TenantCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	qTenantByID   = `SELECT ` + sqlstore.TenantCols + ` FROM tenants WHERE id = $1`
	qListTenants  = `SELECT ` + sqlstore.TenantCols + ` FROM tenants ORDER BY id`
	qUpdateTenant = `UPDATE tenants SET name = $1, environment = $2, staging_mode = $3, allowed_recipients = $4,
		daily_messages = $5, daily_segments = $6, daily_spend_cents = $7, updated_at = $8 WHERE id = $9`
)

func scanTenant(r sqlstore.Scanner) (*switchboard.Tenant, error) {
	var (
		t       switchboard.Tenant
		allowed []byte
	)
	if err := r.Scan(&t.ID, &t.Name, &t.Environment, &t.StagingMode, &allowed, &t.DailyMessages, &t.DailySegments,
		&t.DailySpendCents, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	if allowed != nil {
		if err := json.Unmarshal(allowed, &t.AllowedRecipients); err != nil {
			return nil, fmt.Errorf("postgres: tenant %s: allowed_recipients: %w", t.ID, err)
		}
	}
	t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
	return &t, nil
}

// CreateTenant stores a new tenant; see switchboard.TenantStore.
func (db *DB) CreateTenant(ctx context.Context, tn *switchboard.Tenant) error {
	if err := tn.Validate(); err != nil {
		return err
	}
	allowed, err := sqlstore.JSONList(tn.AllowedRecipients)
	if err != nil {
		return wrap("tenant", err)
	}
	_, err = db.pool.Exec(ctx, qInsertTenant, tn.ID, tn.Name, tn.Environment, tn.StagingMode, allowed, tn.DailyMessages,
		tn.DailySegments, tn.DailySpendCents, tn.CreatedAt, tn.UpdatedAt)
	if _, ok := uniqueViolation(err); ok {
		return switchboard.ErrTenantExists(tn.ID)
	} else if err != nil {
		return wrap("insert tenant", err)
	}
	return nil
}

// GetTenant returns a tenant, or ENOTFOUND.
func (db *DB) GetTenant(ctx context.Context, id string) (*switchboard.Tenant, error) {
	tn, err := scanTenant(db.pool.QueryRow(ctx, qTenantByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrTenantNotFound(id)
	} else if err != nil {
		return nil, wrap("tenant", err)
	}
	return tn, nil
}

// ListTenants lists every tenant by ID.
func (db *DB) ListTenants(ctx context.Context) ([]*switchboard.Tenant, error) {
	rows, err := db.pool.Query(ctx, qListTenants)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, wrap("list tenants", err)
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
		return wrap("tenant", err)
	}
	tag, err := db.pool.Exec(ctx, qUpdateTenant, tn.Name, tn.Environment, tn.StagingMode, allowed, tn.DailyMessages,
		tn.DailySegments, tn.DailySpendCents, tn.UpdatedAt, tn.ID)
	if err != nil {
		return wrap("update tenant", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrTenantNotFound(tn.ID)
	}
	return nil
}
