package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qGetSticky    = `SELECT from_number FROM sticky_senders WHERE pool = ? AND to_number = ?`
	qUpsertSticky = `INSERT INTO sticky_senders (pool, to_number, from_number) VALUES (?, ?, ?)
		ON CONFLICT (pool, to_number) DO UPDATE SET from_number = excluded.from_number`

	qInsertInbound = `INSERT INTO inbound_messages (` + sqlstore.InboundCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider_sid) DO NOTHING`

	qInsertAPIKey = `INSERT INTO api_keys (` + sqlstore.APIKeyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qAPIKeyByHash = `SELECT ` + sqlstore.APIKeyCols + ` FROM api_keys WHERE hash = ?`
	qTouchAPIKey  = `UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`
	qListAPIKeys  = `SELECT ` + sqlstore.APIKeyCols + ` FROM api_keys WHERE (?1 = '' OR tenant = ?1) ORDER BY created_at DESC, id DESC`
	qRevokeAPIKey = `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`

	qDeleteSenders = `DELETE FROM senders`
	qInsertSender  = `INSERT INTO senders (from_number, kind, rate, burst, pool, position) VALUES (?, ?, ?, ?, ?, ?)`
	qListSenders   = `SELECT from_number, kind, rate, burst, pool FROM senders ORDER BY position`
)

// writeQueries are prepared on the write connection at Open.
var writeQueries = []string{
	qInsertMessage, qInsertEvent, qGetIdem, qInsertIdem, qMessageByID, qMessageBySID, qEvents, qSaveMessage, qSaveStatus, qSaveAttempt, qCallbackTarget,
	qClaim, qReleaseLeases, qInsertCallback, qPendingCallbacks, qMarkApplied, qGetSticky, qUpsertSticky,
	qInsertInbound, qInsertAPIKey, qRevokeAPIKey, qDeleteSenders, qInsertSender,
	qInsertAppEvent, qUnfanned, qMarkFanned, qAppEventBySeq, qInsertEndpoint, qEndpointByID, qListEndpoints,
	qEndpointSecrets, qEndpointConfig, qEndpointFailing, qEndpointDisable, qEndpointEnable, qDeleteEndpoint,
	qDeleteEPDeliv, qInsertDelivery, qClaimDeliveries, qDeliveryByID, qSaveDelivery, qKillPending, qReplayDead,
	qReleaseDeliver,
	qSavepoint, qRollbackTo, qRelease,
}

// readQueries are prepared on the read pool at Open.
var readQueries = []string{
	qMessageByID, qMessageBySID, qEvents, qDueSenders, qNextDue, qStaleSending, qGetSticky, qAPIKeyByHash,
	qListAPIKeys, qListSenders, qAnyUnfanned, qAnyDueDelivery, qEndpointByID, qListEndpoints,
	qLatestConsent1, qLatestConsent2,
}

// AssignSender returns the sticky sender of recipient to in pool: the recorded one while it is
// among valid, else preferred, which is recorded.
func (db *DB) AssignSender(ctx context.Context, pool, to, preferred string, valid []string) (string, error) {
	if err := switchboard.CheckSenderAssignment(to, preferred); err != nil {
		return "", err
	}
	// Most recipients already have a valid sender: answer those from the read pool.
	var from string
	err := db.rstmts[qGetSticky].QueryRowContext(ctx, pool, to).Scan(&from)
	if err == nil && slices.Contains(valid, from) {
		return from, nil
	} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: sticky sender: %w", err)
	}
	err = db.write(ctx, func(t *wtx) error {
		// Look again under the write lock: a concurrent assignment may have recorded one.
		err := t.queryRow(qGetSticky, pool, to).Scan(&from)
		if err == nil && slices.Contains(valid, from) {
			return nil
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: sticky sender: %w", err)
		}
		from = preferred
		if _, err := t.exec(qUpsertSticky, pool, to, preferred); err != nil {
			return fmt.Errorf("sqlite: sticky sender: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return from, nil
}

// CreateInbound stores an inbound message; created is false when its provider SID was seen.
func (db *DB) CreateInbound(ctx context.Context, in *switchboard.InboundMessage) (bool, error) {
	if err := switchboard.CheckInbound(in); err != nil {
		return false, err
	}
	media, err := sqlstore.JSONList(in.MediaURLs)
	if err != nil {
		return false, fmt.Errorf("sqlite: media_urls: %w", err)
	}
	var created bool
	given := in.Tenant
	err = db.write(ctx, func(t *wtx) error {
		in.Tenant = given // a retried batch decides again
		if err := attributeInbound(t, in); err != nil {
			return err
		}
		r, err := t.exec(qInsertInbound, in.ID, in.ProviderSID, in.Channel, in.From, in.To, in.Body, in.NumMedia,
			media, sqlstore.RawJSON(in.Payload), micros(in.ReceivedAt), in.Tenant)
		if isUnique(err) {
			return switchboard.ErrInboundExists(in.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert inbound: %w", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: insert inbound: %w", err)
		}
		if created = n == 1; !created {
			return nil
		}
		if err := threadInbound(t, in); err != nil {
			return err
		}
		ev, err := switchboard.ReceivedEvent(in)
		if err != nil {
			return err
		}
		return insertAppEvent(t, ev)
	})
	return created, err
}

// ListInbound lists inbound messages newest first (by ID, which is time-ordered).
func (db *DB) ListInbound(ctx context.Context, f switchboard.InboundFilter) ([]*switchboard.InboundMessage, string, error) {
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	} else if f.From != "" || f.To != "" {
		// The indexes of from and to lead with the tenant: every tenant's is read tenant by tenant.
		where = append(where, sqlstore.AnyTenant("tenant", "inbound_messages"))
	}
	if f.From != "" {
		where, args = append(where, "from_number = ?"), append(args, f.From)
	}
	if f.To != "" {
		where, args = append(where, "to_number = ?"), append(args, f.To)
	}
	if f.Cursor != "" {
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	limit := sqlstore.Limit(f.Limit)
	q := "SELECT " + sqlstore.InboundCols + " FROM inbound_messages"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := db.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanInbound)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list inbound: %w", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.InboundMessage) string { return x.ID })
	return out, next, nil
}

// CreateAPIKey stores a new API key (hash only).
func (db *DB) CreateAPIKey(ctx context.Context, k *switchboard.APIKey) error {
	if err := switchboard.CheckAPIKey(k); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(qInsertAPIKey, k.ID, k.Name, k.Hash, micros(k.CreatedAt), microsPtr(k.RevokedAt), microsPtr(k.LastUsedAt), k.Tenant, k.Role)
		if isUnique(err) {
			return switchboard.ErrAPIKeyExists(k.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert API key: %w", err)
		}
		return nil
	})
}

func scanAPIKey(s scanner) (*switchboard.APIKey, error) {
	var (
		k               switchboard.APIKey
		created         int64
		revoked, usedAt sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.Name, &k.Hash, &created, &revoked, &usedAt, &k.Tenant, &k.Role); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMicros(created)
	k.RevokedAt = fromNullMicros(revoked)
	k.LastUsedAt = fromNullMicros(usedAt)
	return &k, nil
}

// GetAPIKeyByHash returns the unrevoked key with this secret hash, or EUNAUTHORIZED.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error) {
	k, err := scanAPIKey(db.rstmts[qAPIKeyByHash].QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && k.RevokedAt != nil) {
		return nil, switchboard.ErrUnknownAPIKey()
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys lists the keys of tenant (every key when it is empty), newest first.
func (db *DB) ListAPIKeys(ctx context.Context, tenant string) ([]*switchboard.APIKey, error) {
	rows, err := db.rstmts[qListAPIKeys].QueryContext(ctx, tenant)
	out, err := collect(rows, err, scanAPIKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key by ID, or ENOTFOUND. Revoking a revoked key keeps its first
// revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		r, err := t.exec(qRevokeAPIKey, micros(at), id)
		if err != nil {
			return fmt.Errorf("sqlite: revoke API key: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: revoke API key: %w", err)
		} else if n == 0 {
			return switchboard.ErrAPIKeyNotFound(id)
		}
		return nil
	})
}

// TouchAPIKey records a key's last use; see switchboard.Store.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(qTouchAPIKey, micros(at), id); err != nil {
			return fmt.Errorf("sqlite: touch API key: %w", err)
		}
		return nil
	})
}

// SyncSenders replaces the recorded senders with the configured ones, keeping their order.
func (db *DB) SyncSenders(ctx context.Context, senders []switchboard.Sender) error {
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(qDeleteSenders); err != nil {
			return fmt.Errorf("sqlite: sync senders: %w", err)
		}
		for i, s := range senders {
			_, err := t.exec(qInsertSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, i)
			if isUnique(err) {
				return switchboard.ErrDuplicateSender(s.From)
			} else if err != nil {
				return fmt.Errorf("sqlite: sync senders: %w", err)
			}
		}
		return nil
	})
}

// ListSenders returns the recorded senders in configuration order.
func (db *DB) ListSenders(ctx context.Context) ([]switchboard.Sender, error) {
	rows, err := db.rstmts[qListSenders].QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list senders: %w", err)
	}
	defer rows.Close()
	var out []switchboard.Sender
	for rows.Next() {
		var s switchboard.Sender
		if err := rows.Scan(&s.From, &s.Kind, &s.Rate, &s.Burst, &s.Pool); err != nil {
			return nil, fmt.Errorf("sqlite: list senders: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list senders: %w", err)
	}
	return out, nil
}
