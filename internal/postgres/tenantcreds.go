package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const credColumns = `tenant, account_sid, auth_kind, api_key_sid, secret, webhook_token, validated_at, updated_at`

func scanCredentials(r sqlstore.Scanner) (*switchboard.TenantCredentials, error) {
	var (
		c    switchboard.TenantCredentials
		kind string
	)
	if err := r.Scan(&c.Tenant, &c.AccountSID, &kind, &c.APIKeySID, &c.Secret, &c.WebhookToken, &c.ValidatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.Kind = switchboard.CredentialKind(kind)
	c.ValidatedAt, c.UpdatedAt = utc(c.ValidatedAt), utc(c.UpdatedAt)
	return &c, nil
}

// PutTenantCredentials stores a tenant's credentials, replacing earlier ones; see
// switchboard.TenantCredentialStore. One statement: the row is written only when the tenant
// exists.
func (db *DB) PutTenantCredentials(ctx context.Context, c *switchboard.TenantCredentials) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO tenant_credentials (`+credColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1)
		ON CONFLICT (tenant) DO UPDATE SET account_sid = excluded.account_sid, auth_kind = excluded.auth_kind,
			api_key_sid = excluded.api_key_sid, secret = excluded.secret, webhook_token = excluded.webhook_token,
			validated_at = excluded.validated_at, updated_at = excluded.updated_at`,
		c.Tenant, c.AccountSID, string(c.Kind), c.APIKeySID, c.Secret, c.WebhookToken, c.ValidatedAt, c.UpdatedAt)
	if _, ok := uniqueViolation(err); ok {
		return switchboard.ErrAccountInUse(c.AccountSID)
	} else if err != nil {
		return wrap("put credentials", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrTenantNotFound(c.Tenant)
	}
	return nil
}

// GetTenantCredentials returns a tenant's credentials, or ENOTFOUND.
func (db *DB) GetTenantCredentials(ctx context.Context, tenant string) (*switchboard.TenantCredentials, error) {
	c, err := scanCredentials(db.pool.QueryRow(ctx, `SELECT `+credColumns+` FROM tenant_credentials WHERE tenant = $1`, tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrCredentialsNotFound(tenant)
	} else if err != nil {
		return nil, wrap("credentials", err)
	}
	return c, nil
}

// ListTenantCredentials lists every tenant's credentials, by tenant.
func (db *DB) ListTenantCredentials(ctx context.Context) ([]*switchboard.TenantCredentials, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+credColumns+` FROM tenant_credentials ORDER BY tenant`)
	out, err := collect(rows, err, scanCredentials)
	if err != nil {
		return nil, wrap("list credentials", err)
	}
	return out, nil
}

// DeleteTenantCredentials removes a tenant's credentials, or ENOTFOUND.
func (db *DB) DeleteTenantCredentials(ctx context.Context, tenant string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM tenant_credentials WHERE tenant = $1`, tenant)
	if err != nil {
		return wrap("delete credentials", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrCredentialsNotFound(tenant)
	}
	return nil
}

// ReplaceTenantSecrets swaps a tenant's stored secrets while they are unchanged; see
// switchboard.TenantCredentialStore.
func (db *DB) ReplaceTenantSecrets(ctx context.Context, tenant string, old, next [2]string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE tenant_credentials SET secret = $4, webhook_token = $5
		WHERE tenant = $1 AND secret = $2 AND webhook_token = $3`, tenant, old[0], old[1], next[0], next[1])
	if err != nil {
		return wrap("replace credentials", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenant_credentials WHERE tenant = $1)`, tenant).Scan(&exists); err != nil {
		return wrap("replace credentials", err)
	}
	if !exists {
		return switchboard.ErrCredentialsNotFound(tenant)
	}
	return switchboard.ErrCredentialSecretsChanged(tenant)
}
