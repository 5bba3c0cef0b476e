package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

// Statements prepared at Open. Queries built at run time (listings) are not among them.
const (
	qInsertMetadata = `INSERT INTO message_metadata (tenant, key, value, message_id) VALUES (?, ?, ?, ?)`
	qInsertMessage  = `INSERT INTO messages (` + sqlstore.MessageInsertCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertEvent = `INSERT INTO message_events (message_id, type, status, actor, error_code, detail, payload, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qGetIdem    = `SELECT request_hash, message_id FROM idempotency_keys WHERE tenant = ? AND api_key_id = ? AND key = ?`
	qInsertIdem = `INSERT INTO idempotency_keys (tenant, api_key_id, key, request_hash, message_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, api_key_id, key) DO NOTHING`
	qMessageByID  = `SELECT ` + sqlstore.MessageCols + ` FROM messages WHERE id = ?`
	qMessageBySID = `SELECT ` + sqlstore.MessageCols + ` FROM messages WHERE provider_sid = ?`
	qEvents       = `SELECT ` + sqlstore.EventCols + ` FROM message_events WHERE message_id = ? ORDER BY id`
	// qSaveMessage writes back every column a change may touch.
	qSaveMessage = `UPDATE messages SET status = ?1, provider_sid = ?2, error_code = ?3, error_message = ?4,
		attempts = ?5, next_attempt_at = ?6, attempt_in_flight = ?7, attempt_started_at = ?8,
		lease_owner = ?9, lease_until = ?10, updated_at = ?11,
		price_due_at = CASE WHEN ?1 IN ('delivered', 'read', 'undelivered', 'failed') AND ?2 IS NOT NULL
			AND price_micros IS NULL AND price_due_at IS NULL AND price_fetches = 0 THEN ?11 ELSE price_due_at END
		WHERE id = ?12`
	// qSaveAttempt writes back what recording an attempt changes, leaving the indexes of
	// status, due time, lease owner and provider SID alone.
	qSaveAttempt = `UPDATE messages SET attempts = ?, attempt_in_flight = ?, attempt_started_at = ?,
		lease_until = ?, updated_at = ? WHERE id = ?`
	// qSaveStatus writes back what a status callback changes. Naming only these columns lets
	// SQLite leave the indexes of the others (lease, provider SID, recipient) alone.
	//
	// A message that finishes becomes due for its price here, in the statement, rather than by
	// the usage_message_finished trigger (migration 0140), which would update the row a second
	// time: the CASE is that trigger's rule, and with price_due_at set the trigger's WHEN is
	// false. The trigger stays for every other statement that changes a status.
	// The conformance suite's Usage/Prices checks both (updates and callbacks, known and adopted).
	qSaveStatus = `UPDATE messages SET status = ?1, error_code = ?2, error_message = ?3, updated_at = ?4,
		price_due_at = CASE WHEN ?1 IN ('delivered', 'read', 'undelivered', 'failed') AND provider_sid IS NOT NULL
			AND price_micros IS NULL AND price_due_at IS NULL AND price_fetches = 0 THEN ?4 ELSE price_due_at END
		WHERE id = ?5`
	qClaim = `UPDATE messages SET lease_owner = ?1, lease_until = ?2
		WHERE id IN (
			SELECT id FROM messages
			WHERE from_number = ?3 AND status IN ('queued', 'scheduled') AND next_attempt_at <= ?4
				AND (lease_until IS NULL OR lease_until <= ?4)
			ORDER BY next_attempt_at
			LIMIT ?5)
		RETURNING ` + sqlstore.MessageCols
	qReleaseLeases = `UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`
	// qDueSenders walks the distinct senders of the messages_due index (a loose index scan: one
	// seek per sender, whatever the number of queued messages) and keeps those with a claimable
	// message.
	qDueSenders = `WITH RECURSIVE s(f) AS (
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				ORDER BY from_number LIMIT 1)
			UNION ALL
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number > s.f ORDER BY from_number LIMIT 1)
			FROM s WHERE s.f IS NOT NULL)
		SELECT f FROM s WHERE f IS NOT NULL AND EXISTS (
			SELECT 1 FROM messages m WHERE m.status IN ('queued', 'scheduled') AND m.from_number = s.f
				AND m.next_attempt_at <= ?1 AND (m.lease_until IS NULL OR m.lease_until <= ?1))`
	// qNextDue: the earliest unleased claimable message (first entry of messages_next that has no
	// lease) or the earliest moment a leased one becomes claimable again (few rows are leased).
	qNextDue = `SELECT MIN(t) FROM (
			SELECT * FROM (SELECT next_attempt_at AS t FROM messages
				WHERE status IN ('queued', 'scheduled') AND lease_owner IS NULL
				ORDER BY next_attempt_at LIMIT 1)
			UNION ALL
			SELECT MAX(next_attempt_at, lease_until) FROM messages
				WHERE lease_owner IS NOT NULL AND status IN ('queued', 'scheduled'))`
	qStaleSending = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE status IN ('sending', 'sent') AND updated_at < ? AND provider_sid IS NOT NULL
		ORDER BY updated_at LIMIT ?`
)

// scanner is *sql.Row or *sql.Rows.
type scanner = sqlstore.Scanner

func scanMessage(s scanner) (*switchboard.Message, error) {
	var (
		m                                         switchboard.Message
		media, meta, sid, leaseOwner              sql.NullString
		sendAt, validUntil, attemptStart, leaseTo sql.NullInt64
		redacted                                  sql.NullInt64
		next, created, updated                    int64
		wa, waLeg, price, priceUnit               sql.NullString
	)
	err := s.Scan(&m.ID, &m.Status, &m.Channel, &m.Category, &m.To, &m.From, &m.Pool, &m.Body, &media,
		&m.Segments, &m.Encoding, &meta, &sendAt, &validUntil, &sid, &m.ErrorCode, &m.ErrorMessage,
		&m.Attempts, &next, &m.AttemptInFlight, &attemptStart, &leaseOwner, &leaseTo,
		&m.APIKeyID, &created, &updated, &m.Timezone, &m.Template, &m.TemplateVersion, &m.BodySHA256,
		&m.BodyLength, &redacted, &wa, &waLeg, &m.Tenant, &price, &priceUnit)
	if err != nil {
		return nil, err
	}
	m.Price, m.PriceUnit = price.String, priceUnit.String
	if m.WhatsApp, err = switchboard.DecodeWhatsAppOptions(wa.String, waLeg.String); err != nil {
		return nil, fmt.Errorf("sqlite: message %s: %w", m.ID, err)
	}
	if media.Valid {
		if err := json.Unmarshal([]byte(media.String), &m.MediaURLs); err != nil {
			return nil, fmt.Errorf("sqlite: message %s: media_urls: %w", m.ID, err)
		}
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &m.Metadata); err != nil {
			return nil, fmt.Errorf("sqlite: message %s: metadata: %w", m.ID, err)
		}
	}
	m.SendAt = fromNullMicros(sendAt)
	m.ValidUntil = fromNullMicros(validUntil)
	m.ProviderSID = sid.String
	m.NextAttemptAt = fromMicros(next)
	m.AttemptStartedAt = fromNullMicros(attemptStart)
	m.LeaseOwner = leaseOwner.String
	m.LeaseUntil = fromNullMicros(leaseTo)
	m.CreatedAt = fromMicros(created)
	m.UpdatedAt = fromMicros(updated)
	m.RedactedAt = fromNullMicros(redacted)
	return &m, nil
}

func scanEvent(s scanner) (*switchboard.Event, error) {
	var (
		e       switchboard.Event
		payload sql.NullString
		at      int64
	)
	if err := s.Scan(&e.ID, &e.MessageID, &e.Type, &e.Status, &e.Actor, &e.ErrorCode, &e.Detail, &payload, &at); err != nil {
		return nil, err
	}
	if payload.Valid {
		e.Payload = json.RawMessage(payload.String)
	}
	e.At = fromMicros(at)
	return &e, nil
}

// CreateMessage stores a new message with its "created" event; see switchboard.Store.
func (db *DB) CreateMessage(ctx context.Context, m *switchboard.Message, idem *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	stored, idem, err := switchboard.PrepareCreate(m, idem)
	if err != nil {
		return nil, false, err
	}
	media, meta, waJSON, err := sqlstore.MessageJSON(m)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: %w", err)
	}
	ev := stored.Events[0]

	var replay *switchboard.Message
	err = db.write(ctx, func(t *wtx) error {
		// The idempotency record is inserted last, with the message it names: a key seen before
		// makes that insert do nothing, and then this request's writes are rolled back and the
		// earlier message answered. The common case, a new key, costs no lookup.
		_, err := t.exec(qInsertMessage, m.ID, m.Status, m.Channel, m.Category, m.To, m.From, m.Pool, m.Body, media,
			m.Segments, m.Encoding, meta, microsPtr(m.SendAt), microsPtr(m.ValidUntil), sqlstore.NullString(m.ProviderSID),
			m.ErrorCode, m.ErrorMessage, m.Attempts, micros(m.NextAttemptAt), boolInt(m.AttemptInFlight),
			microsPtr(m.AttemptStartedAt), sqlstore.NullString(m.LeaseOwner), microsPtr(m.LeaseUntil), m.APIKeyID,
			micros(m.CreatedAt), micros(m.UpdatedAt), m.Timezone, m.Template, m.TemplateVersion, m.BodySHA256,
			m.BodyLength, microsPtr(m.RedactedAt), sqlstore.NullString(waJSON), nil, m.Tenant)
		if refused := switchboard.QuotaFromDBError(err, m.Tenant, m.CreatedAt); refused != nil {
			// Over its tenant's quota (the usage_quota trigger), unless it is the replay of a
			// request accepted before, which is answered whatever today's counts.
			if idem != nil {
				if replay, err = idemReplay(t, idem); replay != nil || err != nil {
					return err
				}
			}
			return refused
		}
		if isUnique(err) {
			if idem != nil {
				// A retried create that reuses its message ID along with its key.
				if replay, err = idemReplay(t, idem); replay != nil || err != nil {
					return err
				}
			}
			return switchboard.ErrMessageExists(m.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: insert message: %w", err)
		}
		if err := insertEvent(t, ev); err != nil {
			return err
		}
		for k, v := range m.Metadata {
			if _, err := t.exec(qInsertMetadata, m.Tenant, k, v, m.ID); err != nil {
				return fmt.Errorf("sqlite: insert metadata: %w", err)
			}
		}
		if err := threadOutbound(t, stored); err != nil {
			return err
		}
		if err := markFallback(t, stored); err != nil {
			return err
		}
		if idem == nil {
			return nil
		}
		r, err := t.exec(qInsertIdem, idem.Tenant, idem.APIKeyID, idem.Key, idem.RequestHash, m.ID, micros(m.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: insert idempotency key: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: insert idempotency key: %w", err)
		} else if n == 1 {
			return nil
		}
		if replay, err = idemReplay(t, idem); err != nil {
			return err
		}
		if replay == nil {
			return fmt.Errorf("sqlite: idempotency key %q: neither inserted nor found", idem.Key)
		}
		return errReplayed
	})
	if replay != nil && (err == nil || errors.Is(err, errReplayed)) {
		return replay, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return stored, false, nil
}

// errReplayed rolls back a create whose idempotency key was used before: the earlier message
// is the answer.
var errReplayed = errors.New("sqlite: idempotency key replayed")

// idemReplay returns the message an idempotency key made, nil if the key is unused, or an
// EUNPROCESSABLE error if the key was used with a different request.
func idemReplay(t *wtx, idem *switchboard.Idempotency) (*switchboard.Message, error) {
	var hash, id string
	err := t.queryRow(qGetIdem, idem.Tenant, idem.APIKeyID, idem.Key).Scan(&hash, &id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("sqlite: idempotency key: %w", err)
	}
	if err := switchboard.CheckReplay(idem, hash); err != nil {
		return nil, err
	}
	return getMessage(t.ctx, t.stmt(qMessageByID), t.stmt(qEvents), id)
}

// insertEvent appends ev to its message's timeline and sets its ID.
func insertEvent(t *wtx, ev *switchboard.Event) error {
	if err := t.queryRow(qInsertEvent, ev.MessageID, ev.Type, ev.Status, ev.Actor, ev.ErrorCode, ev.Detail,
		sqlstore.RawJSON(ev.Payload), micros(ev.At)).Scan(&ev.ID); err != nil {
		return fmt.Errorf("sqlite: insert event: %w", err)
	}
	return nil
}

// getMessage reads a message and its timeline with the given statements (of a transaction, so
// that both reads see one state).
func getMessage(ctx context.Context, byID, events *sql.Stmt, id string) (*switchboard.Message, error) {
	m, err := scanMessage(byID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrMessageNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get message: %w", err)
	}
	if m.Events, err = loadEvents(ctx, events, id); err != nil {
		return nil, err
	}
	return m, nil
}

func loadEvents(ctx context.Context, events *sql.Stmt, id string) ([]*switchboard.Event, error) {
	rows, err := events.QueryContext(ctx, id)
	evs, err := collect(rows, err, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	return evs, nil
}

// readTx runs fn in a read transaction of the read pool: its reads see one snapshot.
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return fn(tx)
}

// GetMessage returns a message with its timeline, oldest event first, or ENOTFOUND.
func (db *DB) GetMessage(ctx context.Context, id string) (*switchboard.Message, error) {
	var m *switchboard.Message
	err := db.readTx(ctx, func(tx *sql.Tx) (err error) {
		m, err = getMessage(ctx, tx.StmtContext(ctx, db.rstmts[qMessageByID]), tx.StmtContext(ctx, db.rstmts[qEvents]), id)
		return err
	})
	return m, err
}

// GetMessageByProviderSID returns the message the provider knows by sid, with its timeline, or
// ENOTFOUND.
func (db *DB) GetMessageByProviderSID(ctx context.Context, sid string) (*switchboard.Message, error) {
	if sid == "" {
		return nil, switchboard.ErrEmptyProviderSID()
	}
	var m *switchboard.Message
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = scanMessage(tx.StmtContext(ctx, db.rstmts[qMessageBySID]).QueryRowContext(ctx, sid))
		if errors.Is(err, sql.ErrNoRows) {
			return switchboard.ErrProviderSIDNotFound(sid)
		} else if err != nil {
			return fmt.Errorf("sqlite: get message by SID: %w", err)
		}
		m.Events, err = loadEvents(ctx, tx.StmtContext(ctx, db.rstmts[qEvents]), m.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ListMessages lists messages newest first (by ID, which is time-ordered), without timelines.
func (db *DB) ListMessages(ctx context.Context, f switchboard.MessageFilter) ([]*switchboard.Message, string, error) {
	var w sqlstore.Where
	sqlstore.In(&w, "status", f.Statuses)
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
		w.Add("created_at >= ?", micros(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		w.Add("created_at < ?", micros(*f.CreatedBefore))
	}
	limit := sqlstore.Limit(f.Limit)
	q, args := sqlstore.MessagesQuery(&w, sqlstore.MessageCols, f.Tenant, f.Metadata, f.Cursor, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	msgs, err := collect(rows, err, scanMessage)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list messages: %w", err)
	}
	msgs, next := sqlstore.Page(msgs, limit, func(x *switchboard.Message) string { return x.ID })
	return msgs, next, nil
}

// UpdateMessage applies one atomic change; see switchboard.MessageUpdate. The returned message
// has no timeline.
func (db *DB) UpdateMessage(ctx context.Context, u switchboard.MessageUpdate) (*switchboard.Message, error) {
	if err := switchboard.CheckUpdate(&u); err != nil {
		return nil, err
	}
	var out *switchboard.Message
	err := db.write(ctx, func(t *wtx) error {
		m, err := scanMessage(t.queryRow(qMessageByID, u.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return switchboard.ErrMessageNotFound(u.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: update message: %w", err)
		}
		var pending []switchboard.RecordedCallback
		if u.ProviderSID != nil && *u.ProviderSID != "" {
			if pending, err = pendingCallbacks(t, *u.ProviderSID); err != nil {
				return err
			}
		}
		before := savedOf(m)
		evs, apps, err := switchboard.ApplyUpdate(m, &u, pending)
		if err != nil {
			return err
		}
		if err := saveChanged(t, m, before); err != nil {
			return err
		}
		if len(pending) > 0 {
			if _, err := t.exec(qMarkApplied, m.ID, m.ProviderSID); err != nil {
				return fmt.Errorf("sqlite: mark callbacks applied: %w", err)
			}
		}
		if err := insertChange(t, evs, apps); err != nil {
			return err
		}
		out = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func saveMessage(t *wtx, m *switchboard.Message) error {
	_, err := t.exec(qSaveMessage, m.Status, sqlstore.NullString(m.ProviderSID), m.ErrorCode, m.ErrorMessage, m.Attempts,
		micros(m.NextAttemptAt), boolInt(m.AttemptInFlight), microsPtr(m.AttemptStartedAt),
		sqlstore.NullString(m.LeaseOwner), microsPtr(m.LeaseUntil), micros(m.UpdatedAt), m.ID)
	if isUnique(err) {
		return switchboard.ErrProviderSIDTaken(m.ProviderSID)
	} else if err != nil {
		return fmt.Errorf("sqlite: save message: %w", err)
	}
	return nil
}

// saved holds the columns saveMessage writes, to tell which of them an update changed.
type saved struct {
	status                    switchboard.Status
	sid, errMsg, leaseOwner   string
	errCode, attempts         int
	next, started, leaseUntil int64 // microseconds; -1 for none
	inFlight                  bool
	updated                   int64
}

func savedOf(m *switchboard.Message) saved {
	opt := func(t *time.Time) int64 {
		if t == nil {
			return -1
		}
		return t.UnixMicro()
	}
	return saved{status: m.Status, sid: m.ProviderSID, errMsg: m.ErrorMessage, leaseOwner: m.LeaseOwner,
		errCode: m.ErrorCode, attempts: m.Attempts, next: m.NextAttemptAt.UnixMicro(), started: opt(m.AttemptStartedAt),
		leaseUntil: opt(m.LeaseUntil), inFlight: m.AttemptInFlight, updated: m.UpdatedAt.UnixMicro()}
}

// saveChanged writes back m, read as before: with a statement that names only the columns an
// attempt or a status change touches when the change is one of those, so that SQLite leaves
// the other columns' indexes alone; else every column (saveMessage).
func saveChanged(t *wtx, m *switchboard.Message, before saved) error {
	after := savedOf(m)
	same := after
	same.attempts, same.inFlight, same.started, same.leaseUntil, same.updated =
		before.attempts, before.inFlight, before.started, before.leaseUntil, before.updated
	if same == before {
		if _, err := t.exec(qSaveAttempt, m.Attempts, boolInt(m.AttemptInFlight), microsPtr(m.AttemptStartedAt),
			microsPtr(m.LeaseUntil), micros(m.UpdatedAt), m.ID); err != nil {
			return fmt.Errorf("sqlite: save attempt: %w", err)
		}
		return nil
	}
	same = after
	same.status, same.errCode, same.errMsg, same.updated = before.status, before.errCode, before.errMsg, before.updated
	if same == before {
		return saveStatus(t, m)
	}
	return saveMessage(t, m)
}

// saveStatus writes back a message's status, error and update time: all that a callback which
// does not adopt a provider SID changes (applyCallback), and all of some updates (saveChanged).
func saveStatus(t *wtx, m *switchboard.Message) error {
	if _, err := t.exec(qSaveStatus, m.Status, m.ErrorCode, m.ErrorMessage, micros(m.UpdatedAt), m.ID); err != nil {
		return fmt.Errorf("sqlite: save message status: %w", err)
	}
	return nil
}

// ClaimMessages leases up to p.Limit due messages of sender p.From to p.Owner, oldest due first.
func (db *DB) ClaimMessages(ctx context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	var msgs []*switchboard.Message
	err := db.write(ctx, func(t *wtx) error {
		msgs = msgs[:0]
		rows, err := t.query(qClaim, p.Owner, micros(p.LeaseUntil), p.From, micros(p.Now), p.Limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return fmt.Errorf("sqlite: claim: %w", err)
			}
			msgs = append(msgs, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, err
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
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qReleaseLeases, owner)
		if err != nil {
			return fmt.Errorf("sqlite: release leases: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// DueSenders returns the senders that have a claimable message at now, in sender order.
func (db *DB) DueSenders(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.rstmts[qDueSenders].QueryContext(ctx, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due senders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: due senders: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due senders: %w", err)
	}
	return out, nil
}

// NextDueAt returns the earliest time at which a queued or scheduled message becomes claimable:
// its NextAttemptAt, or for a leased message the later of that and the lease's end. Nil when
// there is none.
func (db *DB) NextDueAt(ctx context.Context) (*time.Time, error) {
	var v sql.NullInt64
	if err := db.rstmts[qNextDue].QueryRowContext(ctx).Scan(&v); err != nil {
		return nil, fmt.Errorf("sqlite: next due: %w", err)
	}
	return fromNullMicros(v), nil
}

// StaleSending lists messages in status sending or sent that have a provider SID and have not changed
// since before, oldest first.
func (db *DB) StaleSending(ctx context.Context, before time.Time, limit int) ([]*switchboard.Message, error) {
	rows, err := db.rstmts[qStaleSending].QueryContext(ctx, micros(before), sqlstore.Limit(limit))
	out, err := collect(rows, err, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stale sending: %w", err)
	}
	return out, nil
}

// insertChange appends a change's timeline events and application events.
func insertChange(t *wtx, evs []*switchboard.Event, apps []*switchboard.AppEvent) error {
	for _, ev := range evs {
		if err := insertEvent(t, ev); err != nil {
			return err
		}
	}
	for _, ev := range apps {
		if err := insertAppEvent(t, ev); err != nil {
			return err
		}
	}
	return nil
}
