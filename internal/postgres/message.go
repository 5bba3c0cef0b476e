package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

// messageValues are the parameters of a message row, in sqlstore.MessageInsertCols order. They are cast because
// the create statements insert them with INSERT … SELECT, where PostgreSQL does not infer
// parameter types from the target columns.
const messageValues = `$1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text,
	$9::jsonb, $10::integer, $11::text, $12::jsonb, $13::timestamptz, $14::timestamptz, $15::text,
	$16::integer, $17::text, $18::integer, $19::timestamptz, $20::boolean, $21::timestamptz, $22::text,
	$23::timestamptz, $24::text, $25::timestamptz, $26::timestamptz, $27::text, $28::text, $29::integer,
	$30::text, $31::integer, $32::timestamptz, $38::jsonb, $39::text, $42::text`

// messageInsertCols and messageInsertValues add the fallback bookkeeping ($40, $41), which
// scanMessage does not read, to a new message's row.
const (
	messageInsertCols   = sqlstore.MessageInsertCols + `, fallback_pending, fallback_due_at`
	messageInsertValues = messageValues + `, $40::boolean, $41::timestamptz`
)

// createdEvent inserts the "created" event of the message inserted by the CTE m ($33…$37).
// threadCreated records the message of CTE m in its tenant's conversation (see
// switchboard.Conversation): the ID is derived from the tenant and the pair (convID), the tenant
// left out for tenant default so that the conversations made before tenants keep their IDs.
// Data-modifying CTEs run whether or not the statement reads them, and this one only for the rows
// m inserted. The conflict is arbitrated on the primary key, which is derived from the pair: the
// pair's own index is not unique (migration 0071), since a second unique index would refuse the
// second of two first messages of one conversation inserted at the same moment instead of letting
// ON CONFLICT turn it into an update.
const threadCreated = `, c AS (
			INSERT INTO conversations (id, channel, our_number, their_number, last_message_at, last_outbound_at,
				outbound_count, created_at, tenant)
			SELECT ` + convIDOutbound + `,
				CASE channel WHEN 'mms' THEN 'sms' ELSE channel END, from_number,
				to_number, created_at, created_at, 1, created_at, tenant
			FROM m WHERE from_number <> ''
			ON CONFLICT (id) DO UPDATE SET
				last_message_at = GREATEST(conversations.last_message_at, excluded.last_message_at),
				last_outbound_at = GREATEST(conversations.last_outbound_at, excluded.last_outbound_at),
				outbound_count = conversations.outbound_count + 1)
		`

// convIDPrefix and convIDOutbound (convIDInbound) are the SQL of the ID of the conversation of a
// row with columns tenant, channel, from_number and to_number: an outbound message's (from ours
// to theirs) or an inbound one's.
const (
	convIDPrefix   = `'conv_' || md5(CASE tenant WHEN 'default' THEN '' ELSE tenant || '|' END || CASE channel WHEN 'mms' THEN 'sms' ELSE channel END || '|' || `
	convIDOutbound = convIDPrefix + `from_number || '|' || to_number)`
	convIDInbound  = convIDPrefix + `to_number || '|' || from_number)`
)

// metadataCreated indexes the metadata of the message inserted by the CTE m, one row per key (see
// ListMessages).
const metadataCreated = `, md AS (
			INSERT INTO message_metadata (tenant, key, value, message_id)
			SELECT m.tenant, j.key, j.value, m.id FROM m, jsonb_each_text(m.metadata) j
			WHERE m.metadata IS NOT NULL AND j.value IS NOT NULL)
		`

const createdEvent = `INSERT INTO message_events (message_id, type, status, actor, detail, at)
	SELECT id, $33::text, $34::text, $35::text, $36::text, $37::timestamptz FROM m
	RETURNING id`

const (
	// qCreate inserts a message and its first event in one statement.
	qCreate = `WITH m AS (
			INSERT INTO messages (` + messageInsertCols + `) VALUES (` + messageInsertValues + `)
			RETURNING id, channel, from_number, to_number, created_at, metadata, tenant)` + threadCreated + metadataCreated + createdEvent
	// qCreateIdem does the same only if it inserts the idempotency key ($43…$45, of the message's
	// tenant $42) first. When the
	// key exists, or another transaction is inserting it, ON CONFLICT DO NOTHING waits for that
	// transaction and inserts nothing: no message, no event, no row returned.
	qCreateIdem = `WITH k AS (
			INSERT INTO idempotency_keys (tenant, api_key_id, key, request_hash, message_id, created_at)
			VALUES ($42::text, $43::text, $44::text, $45::text, $1::text, $25::timestamptz)
			ON CONFLICT DO NOTHING RETURNING message_id),
		m AS (
			INSERT INTO messages (` + messageInsertCols + `) SELECT ` + messageInsertValues + ` FROM k
			RETURNING id, channel, from_number, to_number, created_at, metadata, tenant)` + threadCreated + metadataCreated + createdEvent

	qGetIdem          = `SELECT request_hash, message_id FROM idempotency_keys WHERE tenant = $1 AND api_key_id = $2 AND key = $3`
	qIdemMessage      = `SELECT ` + sqlstore.MessageCols + ` FROM messages WHERE id = (` + qIdemMessageID + `)`
	qIdemEvents       = `SELECT ` + sqlstore.EventCols + ` FROM message_events WHERE message_id = (` + qIdemMessageID + `) ORDER BY id`
	qIdemMessageID    = `SELECT message_id FROM idempotency_keys WHERE tenant = $1 AND api_key_id = $2 AND key = $3`
	qMessageByID      = `SELECT ` + sqlstore.MessageCols + ` FROM messages WHERE id = $1`
	qMessageBySID     = `SELECT ` + sqlstore.MessageCols + ` FROM messages WHERE provider_sid = $1`
	qEvents           = `SELECT ` + sqlstore.EventCols + ` FROM message_events WHERE message_id = $1 ORDER BY id`
	qEventsBySID      = `SELECT ` + sqlstore.EventCols + ` FROM message_events WHERE message_id = (SELECT id FROM messages WHERE provider_sid = $1) ORDER BY id`
	qLockMessage      = qMessageByID + ` FOR UPDATE`
	qLockMessageBySID = qMessageBySID + ` FOR UPDATE`
	qInsertEvent      = `INSERT INTO message_events (message_id, type, status, actor, error_code, detail, payload, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`
	// qSaveMessage writes back every column a change may touch.
	qSaveMessage = `UPDATE messages SET status = $2, provider_sid = $3, error_code = $4, error_message = $5,
		attempts = $6, next_attempt_at = $7, attempt_in_flight = $8, attempt_started_at = $9,
		lease_owner = $10, lease_until = $11, updated_at = $12 WHERE id = $1`
	// qClaim locks the due rows it takes and skips those another transaction holds, so concurrent
	// claims on any number of nodes never share a message. A row claimed and committed by another
	// node after this statement's snapshot is re-checked once locked and no longer matches.
	qClaim = `UPDATE messages SET lease_owner = $1, lease_until = $2
		WHERE id IN (
			SELECT id FROM messages
			WHERE from_number = $3 AND status IN ('queued', 'scheduled') AND next_attempt_at <= $4
				AND (lease_until IS NULL OR lease_until <= $4)
			ORDER BY next_attempt_at
			LIMIT $5
			FOR UPDATE SKIP LOCKED)
		RETURNING ` + sqlstore.MessageCols
	qReleaseLeases = `UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`
	// qDueSenders walks the distinct senders of the messages_due index (a loose index scan: one
	// seek per sender, whatever the number of queued messages) and keeps those with a claimable
	// message.
	qDueSenders = `WITH RECURSIVE s(f) AS (
			(SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				ORDER BY from_number LIMIT 1)
			UNION ALL
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number > s.f ORDER BY from_number LIMIT 1)
			FROM s WHERE s.f IS NOT NULL)
		SELECT f FROM s WHERE f IS NOT NULL AND EXISTS (
			SELECT 1 FROM messages m WHERE m.status IN ('queued', 'scheduled') AND m.from_number = s.f
				AND m.next_attempt_at <= $1 AND (m.lease_until IS NULL OR m.lease_until <= $1))`
	// qNextDue: the earliest unleased claimable message (first entry of messages_next that has no
	// lease) or the earliest moment a leased one becomes claimable again (few rows are leased).
	qNextDue = `SELECT LEAST(
			(SELECT next_attempt_at FROM messages
				WHERE status IN ('queued', 'scheduled') AND lease_owner IS NULL
				ORDER BY next_attempt_at LIMIT 1),
			(SELECT min(GREATEST(next_attempt_at, lease_until)) FROM messages
				WHERE lease_owner IS NOT NULL AND status IN ('queued', 'scheduled')))`
	qStaleSending = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE status IN ('sending', 'sent') AND updated_at < $1 AND provider_sid IS NOT NULL
		ORDER BY updated_at LIMIT $2`
)

func scanMessage(r sqlstore.Scanner) (*switchboard.Message, error) {
	var (
		m                                         switchboard.Message
		media, meta                               []byte
		sendAt, validUntil, attemptStart, leaseTo *time.Time
		redacted                                  *time.Time
		sid, leaseOwner                           *string
		wa, waLeg, price, priceUnit               *string
	)
	err := r.Scan(&m.ID, &m.Status, &m.Channel, &m.Category, &m.To, &m.From, &m.Pool, &m.Body, &media,
		&m.Segments, &m.Encoding, &meta, &sendAt, &validUntil, &sid, &m.ErrorCode, &m.ErrorMessage,
		&m.Attempts, &m.NextAttemptAt, &m.AttemptInFlight, &attemptStart, &leaseOwner, &leaseTo,
		&m.APIKeyID, &m.CreatedAt, &m.UpdatedAt, &m.Timezone, &m.Template, &m.TemplateVersion, &m.BodySHA256,
		&m.BodyLength, &redacted, &wa, &waLeg, &m.Tenant, &price, &priceUnit)
	if err != nil {
		return nil, err
	}
	m.Price, m.PriceUnit = deref(price), deref(priceUnit)
	if m.WhatsApp, err = switchboard.DecodeWhatsAppOptions(deref(wa), deref(waLeg)); err != nil {
		return nil, fmt.Errorf("message %s: %w", m.ID, err)
	}
	if media != nil {
		if err := json.Unmarshal(media, &m.MediaURLs); err != nil {
			return nil, fmt.Errorf("message %s: media_urls: %w", m.ID, err)
		}
	}
	if meta != nil {
		if err := json.Unmarshal(meta, &m.Metadata); err != nil {
			return nil, fmt.Errorf("message %s: metadata: %w", m.ID, err)
		}
	}
	m.SendAt, m.ValidUntil, m.AttemptStartedAt, m.LeaseUntil = utcPtr(sendAt), utcPtr(validUntil), utcPtr(attemptStart), utcPtr(leaseTo)
	m.ProviderSID, m.LeaseOwner = deref(sid), deref(leaseOwner)
	m.RedactedAt = utcPtr(redacted)
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt = utc(m.NextAttemptAt), utc(m.CreatedAt), utc(m.UpdatedAt)
	return &m, nil
}

// scanMessages reads every row of rows.
func scanMessages(rows pgx.Rows, err error) ([]*switchboard.Message, error) {
	return collect(rows, err, scanMessage)
}

func scanEvents(rows pgx.Rows, err error) ([]*switchboard.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []*switchboard.Event
	for rows.Next() {
		var (
			e       switchboard.Event
			payload []byte
		)
		if err := rows.Scan(&e.ID, &e.MessageID, &e.Type, &e.Status, &e.Actor, &e.ErrorCode, &e.Detail, &payload, &e.At); err != nil {
			return nil, err
		}
		if payload != nil {
			e.Payload = json.RawMessage(payload)
		}
		e.At = utc(e.At)
		evs = append(evs, &e)
	}
	return evs, rows.Err()
}

// CreateMessage stores a new message with its "created" event; see switchboard.Store.
//
// Without an idempotency key it is one statement. With one, the same statement first inserts the
// key with ON CONFLICT DO NOTHING: of concurrent requests with one key, on any nodes, exactly one
// inserts it and its message; the others wait for that commit, insert nothing, and then read the
// key to replay the message or refuse a different request.
func (db *DB) CreateMessage(ctx context.Context, m *switchboard.Message, idem *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	stored, idem, err := switchboard.PrepareCreate(m, idem)
	if err != nil {
		return nil, false, err
	}
	media, meta, waJSON, err := sqlstore.MessageJSON(m)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: %w", err)
	}
	var fbPending *bool
	pending, fbDue := switchboard.FallbackDue(m)
	if pending {
		fbPending = &pending
	}
	ev := stored.Events[0]

	args := []any{m.ID, m.Status, m.Channel, m.Category, m.To, m.From, m.Pool, m.Body, media,
		m.Segments, m.Encoding, meta, m.SendAt, m.ValidUntil, sqlstore.NullString(m.ProviderSID),
		m.ErrorCode, m.ErrorMessage, m.Attempts, m.NextAttemptAt, m.AttemptInFlight,
		m.AttemptStartedAt, sqlstore.NullString(m.LeaseOwner), m.LeaseUntil, m.APIKeyID, m.CreatedAt, m.UpdatedAt,
		m.Timezone, m.Template, m.TemplateVersion, m.BodySHA256, m.BodyLength, m.RedactedAt,
		ev.Type, ev.Status, ev.Actor, ev.Detail, ev.At,
		sqlstore.NullString(waJSON), nil, fbPending, fbDue, m.Tenant}
	q := qCreate
	if idem != nil {
		q = qCreateIdem
		args = append(args, idem.APIKeyID, idem.Key, idem.RequestHash)
	}
	// A key found taken is normally read at the first try; the loop covers a key deleted (by a
	// retention job, say) between the two statements.
	for range 3 {
		err := db.pool.QueryRow(ctx, q, args...).Scan(&ev.ID)
		if err == nil {
			return stored, false, nil
		}
		if refused := switchboard.QuotaFromDBError(err, m.Tenant, m.CreatedAt); refused != nil {
			// Over its tenant's quota (the a_usage_messages_inserted trigger). A replay never gets
			// here: its key's insert comes first and inserts no message.
			return nil, false, refused
		}
		if !errors.Is(err, pgx.ErrNoRows) || idem == nil {
			switch c, _ := uniqueViolation(err); c {
			case "messages_provider_sid":
				return nil, false, switchboard.ErrProviderSIDTaken(m.ProviderSID)
			case "messages_pkey":
				return nil, false, switchboard.ErrMessageExists(m.ID)
			}
			return nil, false, wrap("create message", err)
		}
		replay, err := db.replay(ctx, idem)
		if err != nil {
			return nil, false, err
		}
		if replay != nil {
			return replay, true, nil
		}
	}
	return nil, false, fmt.Errorf("postgres: create message: idempotency key %q neither insertable nor readable", idem.Key)
}

// replay reads the message an idempotency key made, or refuses a different request with the same
// key. It returns nil, nil when the key does not exist (any more).
func (db *DB) replay(ctx context.Context, idem *switchboard.Idempotency) (*switchboard.Message, error) {
	b := newBatch(readOptions)
	b.Queue(qGetIdem, idem.Tenant, idem.APIKeyID, idem.Key)
	b.Queue(qIdemMessage, idem.Tenant, idem.APIKeyID, idem.Key)
	b.Queue(qIdemEvents, idem.Tenant, idem.APIKeyID, idem.Key)
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	var hash, id string
	if err := br.QueryRow().Scan(&hash, &id); errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("idempotency key", err)
	}
	if err := switchboard.CheckReplay(idem, hash); err != nil {
		return nil, err
	}
	m, err := scanMessage(br.QueryRow())
	if err != nil {
		return nil, wrap("idempotent replay", err)
	}
	if m.Events, err = scanEvents(br.Query()); err != nil {
		return nil, wrap("idempotent replay", err)
	}
	if err := br.Close(); err != nil {
		return nil, wrap("idempotent replay", err)
	}
	return m, nil
}

// GetMessage returns a message with its timeline, oldest event first, or ENOTFOUND. The message
// and its timeline are read from one snapshot.
func (db *DB) GetMessage(ctx context.Context, id string) (*switchboard.Message, error) {
	return db.getMessage(ctx, qMessageByID, qEvents, id, func() error { return switchboard.ErrMessageNotFound(id) })
}

// GetMessageByProviderSID returns the message the provider knows by sid, with its timeline, or
// ENOTFOUND.
func (db *DB) GetMessageByProviderSID(ctx context.Context, sid string) (*switchboard.Message, error) {
	if sid == "" {
		return nil, switchboard.ErrEmptyProviderSID()
	}
	return db.getMessage(ctx, qMessageBySID, qEventsBySID, sid, func() error {
		return switchboard.ErrProviderSIDNotFound(sid)
	})
}

func (db *DB) getMessage(ctx context.Context, qMessage, qTimeline, key string, missing func() error) (*switchboard.Message, error) {
	b := newBatch(readOptions)
	b.Queue(qMessage, key)
	b.Queue(qTimeline, key)
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	m, err := scanMessage(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, missing()
	} else if err != nil {
		return nil, wrap("get message", err)
	}
	if m.Events, err = scanEvents(br.Query()); err != nil {
		return nil, wrap("get message", err)
	}
	if err := br.Close(); err != nil {
		return nil, wrap("get message", err)
	}
	return m, nil
}

// ListMessages lists messages newest first (by ID, which is time-ordered), without timelines.
func (db *DB) ListMessages(ctx context.Context, f switchboard.MessageFilter) ([]*switchboard.Message, string, error) {
	w := sqlstore.Where{Numbered: true}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		w.Add("status = ANY(?)", statuses)
	}
	if f.To != "" {
		// messages_to leads with the tenant: every tenant's is read tenant by tenant.
		if f.Tenant == "" && f.Metadata == nil {
			sqlstore.TenantIn(&w, "tenant", "messages", "")
		}
		w.Add("to_number = ?", f.To)
	}
	if f.From != "" {
		w.Add("from_number = ?", f.From)
	}
	if f.CreatedAfter != nil {
		w.Add("created_at >= ?", *f.CreatedAfter)
	}
	if f.CreatedBefore != nil {
		w.Add("created_at < ?", *f.CreatedBefore)
	}
	limit := sqlstore.Limit(f.Limit)
	// id is COLLATE "C": byte order, which is creation order for Switchboard's IDs.
	q, args := sqlstore.MessagesQuery(&w, sqlstore.MessageCols, f.Tenant, f.Metadata, f.Cursor, limit)
	msgs, err := scanMessages(db.pool.Query(ctx, q, args...))
	if err != nil {
		return nil, "", wrap("list messages", err)
	}
	msgs, next := sqlstore.Page(msgs, limit, func(x *switchboard.Message) string { return x.ID })
	return msgs, next, nil
}

// UpdateMessage applies one atomic change; see switchboard.MessageUpdate. The returned message
// has no timeline.
//
// The message row is locked (FOR UPDATE) while the change is checked and applied, so concurrent
// updates and callbacks of one message, on any nodes, apply one after the other and append their
// events in that order. An update that sets a provider SID first takes that SID's advisory lock,
// so that a callback for the SID arriving at the same moment is either seen here as pending or
// finds the message with its SID.
func (db *DB) UpdateMessage(ctx context.Context, u switchboard.MessageUpdate) (*switchboard.Message, error) {
	if err := switchboard.CheckUpdate(&u); err != nil {
		return nil, err
	}
	setsSID := u.ProviderSID != nil && *u.ProviderSID != ""
	b := newBatch(txOptions)
	if setsSID {
		b.Queue(qLockSID, lockSIDNamespace, sidLockKey(*u.ProviderSID))
	}
	b.Queue(qLockMessage, u.ID)
	if setsSID {
		b.Queue(qPendingCallbacks, *u.ProviderSID)
	}
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	if setsSID {
		if _, err := br.Exec(); err != nil {
			return nil, wrap("update message: lock SID", err)
		}
	}
	m, err := scanMessage(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrMessageNotFound(u.ID)
	} else if err != nil {
		return nil, wrap("update message", err)
	}
	var pending []switchboard.RecordedCallback
	if setsSID {
		if pending, err = scanPending(br.Query()); err != nil {
			return nil, wrap("pending callbacks", err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, wrap("update message", err)
	}
	evs, apps, err := switchboard.ApplyUpdate(m, &u, pending)
	if err != nil {
		return nil, err
	}
	w := &pgx.Batch{}
	queueSave(w, m)
	if len(pending) > 0 {
		w.Queue(qMarkApplied, m.ID, m.ProviderSID)
	}
	queueAppEvents(w, apps)
	queueEvents(w, evs)
	if err := sendWrites(ctx, tx, w, m, evs); err != nil {
		return nil, err
	}
	if err := commit(ctx, tx); err != nil {
		return nil, err
	}
	return m, nil
}

// queueSave queues the write of every column a change may touch.
func queueSave(b *pgx.Batch, m *switchboard.Message) {
	b.Queue(qSaveMessage, m.ID, m.Status, sqlstore.NullString(m.ProviderSID), m.ErrorCode, m.ErrorMessage, m.Attempts,
		m.NextAttemptAt, m.AttemptInFlight, m.AttemptStartedAt, sqlstore.NullString(m.LeaseOwner), m.LeaseUntil, m.UpdatedAt)
}

// queueEvents queues the appends of evs, in order; sendWrites reads their IDs.
func queueEvents(b *pgx.Batch, evs []*switchboard.Event) {
	for _, ev := range evs {
		b.Queue(qInsertEvent, ev.MessageID, ev.Type, ev.Status, ev.Actor, ev.ErrorCode, ev.Detail, sqlstore.RawJSON(ev.Payload), ev.At)
	}
}

// sendWrites sends b, whose queries are writes followed by the appends of evs (queueEvents), in
// tx, sets the events' IDs and maps a taken provider SID to its application error.
func sendWrites(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m *switchboard.Message, evs []*switchboard.Event) error {
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for range b.Len() - len(evs) {
		if _, err := br.Exec(); err != nil {
			if c, ok := uniqueViolation(err); ok && c == "messages_provider_sid" {
				return switchboard.ErrProviderSIDTaken(m.ProviderSID)
			}
			return wrap("save message", err)
		}
	}
	for _, ev := range evs {
		if err := br.QueryRow().Scan(&ev.ID); err != nil {
			return wrap("insert event", err)
		}
	}
	if err := br.Close(); err != nil {
		return wrap("save message", err)
	}
	return nil
}

// ClaimMessages leases up to p.Limit due messages of sender p.From to p.Owner, oldest due first.
func (db *DB) ClaimMessages(ctx context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	msgs, err := scanMessages(db.pool.Query(ctx, qClaim, p.Owner, p.LeaseUntil, p.From, p.Now, p.Limit))
	if err != nil {
		return nil, wrap("claim", err)
	}
	// RETURNING does not keep the subquery's order.
	switchboard.SortClaimedMessages(msgs)
	return msgs, nil
}

// ReleaseLeases drops every lease owner holds and returns how many.
func (db *DB) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, qReleaseLeases, owner)
	if err != nil {
		return 0, wrap("release leases", err)
	}
	return int(tag.RowsAffected()), nil
}

// DueSenders returns the senders that have a claimable message at now, in sender order.
func (db *DB) DueSenders(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.pool.Query(ctx, qDueSenders, now)
	if err != nil {
		return nil, wrap("due senders", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("due senders", err)
	}
	return out, nil
}

// NextDueAt returns the earliest time at which a queued or scheduled message becomes claimable:
// its NextAttemptAt, or for a leased message the later of that and the lease's end. Nil when
// there is none.
func (db *DB) NextDueAt(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	if err := db.pool.QueryRow(ctx, qNextDue).Scan(&t); err != nil {
		return nil, wrap("next due", err)
	}
	return utcPtr(t), nil
}

// StaleSending lists messages in status sending or sent that have a provider SID and have not
// changed since before, least recently changed first.
func (db *DB) StaleSending(ctx context.Context, before time.Time, limit int) ([]*switchboard.Message, error) {
	msgs, err := scanMessages(db.pool.Query(ctx, qStaleSending, before, sqlstore.Limit(limit)))
	if err != nil {
		return nil, wrap("stale sending", err)
	}
	return msgs, nil
}
