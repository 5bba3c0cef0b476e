package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qGetSticky = `SELECT from_number FROM sticky_senders WHERE pool = $1 AND to_number = $2`
	// qUpsertSticky records preferred unless the recorded sender is still valid; it returns the
	// row only when it wrote one. ON CONFLICT DO UPDATE sees (and locks) the latest committed row,
	// so concurrent assignments on several nodes agree.
	qUpsertSticky = `INSERT INTO sticky_senders AS s (pool, to_number, from_number) VALUES ($1, $2, $3)
		ON CONFLICT (pool, to_number) DO UPDATE SET from_number = excluded.from_number
			WHERE NOT (s.from_number = ANY($4::text[]))
		RETURNING from_number`

	// qInsertInbound inserts an inbound message of tenant $17 once per provider SID, and its
	// message.received event ($11…$16) only when it inserted the message.
	qInsertInbound = `WITH i AS (
			INSERT INTO inbound_messages (` + sqlstore.InboundCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $17)
			ON CONFLICT (provider_sid) DO NOTHING RETURNING id, channel, from_number, to_number, received_at, tenant),
		c AS (
			INSERT INTO conversations (id, channel, our_number, their_number, last_message_at, last_inbound_at,
				inbound_count, created_at, tenant)
			SELECT ` + convIDInbound + `,
				CASE channel WHEN 'mms' THEN 'sms' ELSE channel END, to_number,
				from_number, received_at, received_at, 1, received_at, tenant
			FROM i
			ON CONFLICT (id) DO UPDATE SET -- the primary key, as in threadCreated (message.go)
				last_message_at = GREATEST(conversations.last_message_at, excluded.last_message_at),
				last_inbound_at = GREATEST(conversations.last_inbound_at, excluded.last_inbound_at),
				inbound_count = conversations.inbound_count + 1)
		INSERT INTO app_events (id, type, version, at, data, targets, tenant)
		SELECT $11::text, $12::text, $13::integer, $14::timestamptz, $15::jsonb, $16::jsonb, tenant FROM i`

	qInsertAPIKey = `INSERT INTO api_keys (` + sqlstore.APIKeyCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qAPIKeyByHash = `SELECT ` + sqlstore.APIKeyCols + ` FROM api_keys WHERE hash = $1`
	qTouchAPIKey  = `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`
	qListAPIKeys  = `SELECT ` + sqlstore.APIKeyCols + ` FROM api_keys WHERE ($1::text = '' OR tenant = $1) ORDER BY created_at DESC, id DESC`
	qRevokeAPIKey = `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`

	// qLockSenders serializes SyncSenders of several nodes starting at once: without it, one
	// node's inserts could collide with another's and look like a sender configured twice.
	qLockSenders   = `LOCK TABLE senders IN SHARE ROW EXCLUSIVE MODE`
	qDeleteSenders = `DELETE FROM senders`
	qInsertSender  = `INSERT INTO senders (from_number, kind, rate, burst, pool, position) VALUES ($1, $2, $3, $4, $5, $6)`
	qListSenders   = `SELECT from_number, kind, rate, burst, pool FROM senders ORDER BY position`
)

// AssignSender returns the sticky sender of recipient to in pool: the recorded one while it is
// among valid, else preferred, which is recorded.
func (db *DB) AssignSender(ctx context.Context, pool, to, preferred string, valid []string) (string, error) {
	if err := switchboard.CheckSenderAssignment(to, preferred); err != nil {
		return "", err
	}
	// Most recipients already have a valid sender: one read answers them.
	var from string
	err := db.pool.QueryRow(ctx, qGetSticky, pool, to).Scan(&from)
	if err == nil && slices.Contains(valid, from) {
		return from, nil
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", wrap("sticky sender", err)
	}
	if valid == nil {
		valid = []string{}
	}
	for range 3 {
		err = db.pool.QueryRow(ctx, qUpsertSticky, pool, to, preferred, valid).Scan(&from)
		if err == nil {
			return from, nil // recorded preferred
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return "", wrap("sticky sender", err)
		}
		// Another node recorded a valid sender first: read it (this statement's snapshot
		// follows that commit).
		err = db.pool.QueryRow(ctx, qGetSticky, pool, to).Scan(&from)
		if err == nil {
			return from, nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return "", wrap("sticky sender", err)
		}
	}
	return "", wrap("sticky sender", errors.New("assignment kept changing"))
}

// CreateInbound stores an inbound message; created is false when its provider SID was seen.
func (db *DB) CreateInbound(ctx context.Context, in *switchboard.InboundMessage) (bool, error) {
	if err := switchboard.CheckInbound(in); err != nil {
		return false, err
	}
	media, err := sqlstore.JSONList(in.MediaURLs)
	if err != nil {
		return false, wrap("media_urls", err)
	}
	if in.Tenant == "" {
		// Read before the insert: an outbound message committed in between may answer another
		// tenant, which is the message's race to lose, not a store's to decide.
		rows, err := db.pool.Query(ctx, qConvsOfPair, in.From, in.To, string(switchboard.ThreadChannel(in.Channel)))
		convs, err := collect(rows, err, scanConversation)
		if err != nil {
			return false, wrap("inbound tenant", err)
		}
		in.Tenant = switchboard.InboundTenant(convs)
	}
	ev, err := switchboard.ReceivedEvent(in)
	if err != nil {
		return false, err
	}
	tag, err := db.pool.Exec(ctx, qInsertInbound, in.ID, in.ProviderSID, in.Channel, in.From, in.To, in.Body, in.NumMedia,
		media, sqlstore.RawJSON(in.Payload), in.ReceivedAt, ev.ID, ev.Type, ev.Version, ev.At, string(ev.Data), eventTargets(ev),
		in.Tenant)
	if _, ok := uniqueViolation(err); ok {
		return false, switchboard.ErrInboundExists(in.ID)
	} else if err != nil {
		return false, wrap("insert inbound", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListInbound lists inbound messages newest first (by ID, which is time-ordered).
func (db *DB) ListInbound(ctx context.Context, f switchboard.InboundFilter) ([]*switchboard.InboundMessage, string, error) {
	w := sqlstore.Where{Numbered: true}
	if f.Tenant != "" || f.From != "" || f.To != "" {
		// The indexes of from and to lead with the tenant: every tenant's is read tenant by tenant.
		sqlstore.TenantIn(&w, "tenant", "inbound_messages", f.Tenant)
	}
	if f.From != "" {
		w.Add("from_number = ?", f.From)
	}
	if f.To != "" {
		w.Add("to_number = ?", f.To)
	}
	if f.Cursor != "" {
		w.Add("id < ?", f.Cursor)
	}
	limit := sqlstore.Limit(f.Limit)
	cond, n := w.SQL(), w.Next()
	q := "SELECT " + sqlstore.InboundCols + " FROM inbound_messages" + cond + " ORDER BY id DESC LIMIT " + n
	rows, err := db.pool.Query(ctx, q, append(w.Args, limit+1)...)
	out, err := collect(rows, err, scanInbound)
	if err != nil {
		return nil, "", wrap("list inbound", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.InboundMessage) string { return x.ID })
	return out, next, nil
}

// CreateAPIKey stores a new API key (hash only).
func (db *DB) CreateAPIKey(ctx context.Context, k *switchboard.APIKey) error {
	if err := switchboard.CheckAPIKey(k); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, qInsertAPIKey, k.ID, k.Name, k.Hash, k.CreatedAt, k.RevokedAt, k.LastUsedAt, k.Tenant, k.Role)
	if _, ok := uniqueViolation(err); ok {
		return switchboard.ErrAPIKeyExists(k.ID)
	} else if err != nil {
		return wrap("insert API key", err)
	}
	return nil
}

func scanAPIKey(r sqlstore.Scanner) (*switchboard.APIKey, error) {
	var k switchboard.APIKey
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt, &k.Tenant, &k.Role); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RevokedAt, k.LastUsedAt = utc(k.CreatedAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
	return &k, nil
}

// GetAPIKeyByHash returns the unrevoked key with this secret hash, or EUNAUTHORIZED.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, qAPIKeyByHash, hash))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && k.RevokedAt != nil) {
		return nil, switchboard.ErrUnknownAPIKey()
	} else if err != nil {
		return nil, wrap("API key", err)
	}
	return k, nil
}

// ListAPIKeys lists the keys of tenant (every key when it is empty), newest first.
func (db *DB) ListAPIKeys(ctx context.Context, tenant string) ([]*switchboard.APIKey, error) {
	rows, err := db.pool.Query(ctx, qListAPIKeys, tenant)
	out, err := collect(rows, err, scanAPIKey)
	if err != nil {
		return nil, wrap("list API keys", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key by ID, or ENOTFOUND. Revoking a revoked key keeps its first
// revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, qRevokeAPIKey, at, id)
	if err != nil {
		return wrap("revoke API key", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrAPIKeyNotFound(id)
	}
	return nil
}

// TouchAPIKey records a key's last use; see switchboard.Store.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, qTouchAPIKey, at, id); err != nil {
		return wrap("touch API key", err)
	}
	return nil
}

// SyncSenders replaces the recorded senders with the configured ones, keeping their order.
func (db *DB) SyncSenders(ctx context.Context, senders []switchboard.Sender) error {
	b := newBatch(txOptions)
	b.Queue(qLockSenders)
	b.Queue(qDeleteSenders)
	for i, s := range senders {
		b.Queue(qInsertSender, s.From, s.Kind, s.Rate, s.Burst, s.Pool, i)
	}
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	for i := range len(senders) + 2 {
		if _, err := br.Exec(); err != nil {
			if _, ok := uniqueViolation(err); ok && i >= 2 {
				return switchboard.ErrDuplicateSender(senders[i-2].From)
			}
			return wrap("sync senders", err)
		}
	}
	if err := br.Close(); err != nil {
		return wrap("sync senders", err)
	}
	return commit(ctx, tx)
}

// ListSenders returns the recorded senders in configuration order.
func (db *DB) ListSenders(ctx context.Context) ([]switchboard.Sender, error) {
	rows, err := db.pool.Query(ctx, qListSenders)
	if err != nil {
		return nil, wrap("list senders", err)
	}
	defer rows.Close()
	var out []switchboard.Sender
	for rows.Next() {
		var s switchboard.Sender
		if err := rows.Scan(&s.From, &s.Kind, &s.Rate, &s.Burst, &s.Pool); err != nil {
			return nil, wrap("list senders", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list senders", err)
	}
	return out, nil
}
