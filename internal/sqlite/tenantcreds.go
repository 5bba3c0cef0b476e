package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	switchboard "github.com/switchboard-gw/switchboard"
)

const credColumns = `tenant, account_sid, auth_kind, api_key_sid, secret, webhook_token, validated_at, updated_at`

func scanCredentials(s scanner) (*switchboard.TenantCredentials, error) {
	var (
		c                  switchboard.TenantCredentials
		validated, updated int64
		kind               string
	)
	if err := s.Scan(&c.Tenant, &c.AccountSID, &kind, &c.APIKeySID, &c.Secret, &c.WebhookToken, &validated, &updated); err != nil {
		return nil, err
	}
	c.Kind = switchboard.CredentialKind(kind)
	c.ValidatedAt, c.UpdatedAt = fromMicros(validated), fromMicros(updated)
	return &c, nil
}

// PutTenantCredentials stores a tenant's credentials, replacing earlier ones; see
// switchboard.TenantCredentialStore.
func (db *DB) PutTenantCredentials(ctx context.Context, c *switchboard.TenantCredentials) error {
	return db.write(ctx, func(t *wtx) error {
		var one int
		if err := t.queryRow(`SELECT 1 FROM tenants WHERE id = ?`, c.Tenant).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return switchboard.ErrTenantNotFound(c.Tenant)
		} else if err != nil {
			return fmt.Errorf("sqlite: put credentials: %w", err)
		}
		_, err := t.exec(`INSERT INTO tenant_credentials (`+credColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant) DO UPDATE SET account_sid = excluded.account_sid, auth_kind = excluded.auth_kind,
				api_key_sid = excluded.api_key_sid, secret = excluded.secret, webhook_token = excluded.webhook_token,
				validated_at = excluded.validated_at, updated_at = excluded.updated_at`,
			c.Tenant, c.AccountSID, string(c.Kind), c.APIKeySID, c.Secret, c.WebhookToken, micros(c.ValidatedAt), micros(c.UpdatedAt))
		if isUnique(err) {
			return switchboard.ErrAccountInUse(c.AccountSID)
		} else if err != nil {
			return fmt.Errorf("sqlite: put credentials: %w", err)
		}
		return nil
	})
}

// GetTenantCredentials returns a tenant's credentials, or ENOTFOUND.
func (db *DB) GetTenantCredentials(ctx context.Context, tenant string) (*switchboard.TenantCredentials, error) {
	c, err := scanCredentials(db.r.QueryRowContext(ctx, `SELECT `+credColumns+` FROM tenant_credentials WHERE tenant = ?`, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrCredentialsNotFound(tenant)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: credentials: %w", err)
	}
	return c, nil
}

// ListTenantCredentials lists every tenant's credentials, by tenant.
func (db *DB) ListTenantCredentials(ctx context.Context) ([]*switchboard.TenantCredentials, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+credColumns+` FROM tenant_credentials ORDER BY tenant`)
	out, err := collect(rows, err, scanCredentials)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list credentials: %w", err)
	}
	return out, nil
}

// DeleteTenantCredentials removes a tenant's credentials, or ENOTFOUND.
func (db *DB) DeleteTenantCredentials(ctx context.Context, tenant string) error {
	return db.write(ctx, func(t *wtx) error {
		r, err := t.exec(`DELETE FROM tenant_credentials WHERE tenant = ?`, tenant)
		if err != nil {
			return fmt.Errorf("sqlite: delete credentials: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete credentials: %w", err)
		} else if n == 0 {
			return switchboard.ErrCredentialsNotFound(tenant)
		}
		return nil
	})
}

// ReplaceTenantSecrets swaps a tenant's stored secrets while they are unchanged; see
// switchboard.TenantCredentialStore.
func (db *DB) ReplaceTenantSecrets(ctx context.Context, tenant string, old, next [2]string) error {
	return db.write(ctx, func(t *wtx) error {
		var secret, hook string
		err := t.queryRow(`SELECT secret, webhook_token FROM tenant_credentials WHERE tenant = ?`, tenant).Scan(&secret, &hook)
		if errors.Is(err, sql.ErrNoRows) {
			return switchboard.ErrCredentialsNotFound(tenant)
		} else if err != nil {
			return fmt.Errorf("sqlite: replace credentials: %w", err)
		}
		if secret != old[0] || hook != old[1] {
			return switchboard.ErrCredentialSecretsChanged(tenant)
		}
		if _, err := t.exec(`UPDATE tenant_credentials SET secret = ?, webhook_token = ? WHERE tenant = ?`, next[0], next[1], tenant); err != nil {
			return fmt.Errorf("sqlite: replace credentials: %w", err)
		}
		return nil
	})
}
