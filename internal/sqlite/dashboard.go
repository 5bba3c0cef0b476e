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

// CreateSession stores a new dashboard session.
func (db *DB) CreateSession(ctx context.Context, s *switchboard.DashboardSession) error {
	if err := switchboard.CheckSession(s); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO dashboard_sessions (hash, subject, api_key_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			s.Hash, s.Subject, s.APIKeyHash, micros(s.CreatedAt), micros(s.ExpiresAt))
		if isUnique(err) {
			return switchboard.ErrSessionExists()
		} else if err != nil {
			return fmt.Errorf("sqlite: insert session: %w", err)
		}
		return nil
	})
}

// GetSession returns an unexpired session, or ENOTFOUND.
func (db *DB) GetSession(ctx context.Context, hash string, now time.Time) (*switchboard.DashboardSession, error) {
	var (
		s                switchboard.DashboardSession
		created, expires int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT hash, subject, api_key_hash, created_at, expires_at FROM dashboard_sessions
		WHERE hash = ? AND expires_at > ?`, hash, micros(now)).Scan(&s.Hash, &s.Subject, &s.APIKeyHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrSessionNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &s, nil
}

// DeleteSession removes a session.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(`DELETE FROM dashboard_sessions WHERE hash = ?`, hash); err != nil {
			return fmt.Errorf("sqlite: delete session: %w", err)
		}
		return nil
	})
}

// DeleteExpiredSessions removes expired sessions.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		r, err := t.exec(`DELETE FROM dashboard_sessions WHERE expires_at <= ?`, micros(now))
		if err != nil {
			return fmt.Errorf("sqlite: delete expired sessions: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}

// SearchMessages lists messages newest first by the criteria of q.
func (db *DB) SearchMessages(ctx context.Context, q switchboard.MessageSearch) ([]*switchboard.Message, string, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	switch {
	case q.Metadata != nil: // the metadata index leads with the tenant (MessagesQuery)
	case q.Tenant != "":
		add("tenant = ?", q.Tenant)
	case q.To != "":
		// messages_to leads with the tenant: every tenant's is read tenant by tenant.
		add(sqlstore.AnyTenant("tenant", "messages"))
	}
	if q.To != "" {
		add("to_number = ?", q.To)
	}
	if q.ToSuffix != "" {
		// The suffix is digits only (the caller checks), so it holds no LIKE wildcard.
		add("to_number LIKE ?", "%"+q.ToSuffix)
	}
	if q.From != "" {
		add("from_number = ?", q.From)
	}
	if q.ErrorCode != 0 {
		add("error_code = ?", q.ErrorCode)
	}
	if q.CreatedAfter != nil {
		add("created_at >= ?", micros(*q.CreatedAfter))
	}
	if q.CreatedBefore != nil {
		add("created_at < ?", micros(*q.CreatedBefore))
	}
	limit := sqlstore.Limit(q.Limit)
	var sq string
	if q.Metadata != nil {
		// A metadata pair drives the search from its index (see sqlstore.MessageMetadata); the
		// statuses are checked on the messages it reads.
		w := sqlstore.Where{Conds: where, Args: args}
		sqlstore.In(&w, "status", q.Statuses)
		sq, args = sqlstore.MessagesQuery(&w, sqlstore.MessageCols, q.Tenant, q.Metadata, q.Cursor, limit)
	} else {
		if q.Cursor != "" {
			add("id < ?", q.Cursor)
		}
		sq, args = searchQuery(q.Statuses, where, args, limit+1)
	}
	rows, err := db.r.QueryContext(ctx, sq, args...)
	msgs, err := collect(rows, err, scanMessage)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: search messages: %w", err)
	}
	msgs, next := sqlstore.Page(msgs, limit, func(x *switchboard.Message) string { return x.ID })
	return msgs, next, nil
}

// searchQuery builds the search of messages newest first under the conditions where (with args),
// at most limit rows. A search by status walks the index messages_status (status, id) backwards:
// one status is one walk that stops at the page's limit; several are one such walk each, merged
// (a single IN over the index could not stop early: its order is by status first).
func searchQuery(statuses []switchboard.Status, where []string, args []any, limit int) (string, []any) {
	page := func(cond []string) string {
		sq := "SELECT " + sqlstore.MessageCols + " FROM messages"
		if len(cond) > 0 {
			sq += " WHERE " + strings.Join(cond, " AND ")
		}
		return sq + " ORDER BY id DESC LIMIT ?"
	}
	switch len(statuses) {
	case 0:
		return page(where), append(args, limit)
	case 1:
		return page(append([]string{"status = ? COLLATE NOCASE"}, where...)), append(append([]any{string(statuses[0])}, args...), limit)
	}
	parts := make([]string, len(statuses))
	var all []any
	for i, st := range statuses {
		parts[i] = "SELECT * FROM (" + page(append([]string{"status = ? COLLATE NOCASE"}, where...)) + ")"
		all = append(append(append(all, string(st)), args...), limit)
	}
	return "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") ORDER BY id DESC LIMIT ?", append(all, limit)
}

// FailuresByCode counts failed and undelivered messages by error code.
func (db *DB) FailuresByCode(ctx context.Context, since, until time.Time) ([]switchboard.FailureCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT error_code, count(*), max(updated_at) FROM messages
		WHERE status IN ('failed', 'undelivered', 'blocked') AND updated_at >= ? AND updated_at < ?
		GROUP BY error_code ORDER BY count(*) DESC, error_code`, micros(since), micros(until))
	if err != nil {
		return nil, fmt.Errorf("sqlite: failures by code: %w", err)
	}
	defer rows.Close()
	var out []switchboard.FailureCount
	for rows.Next() {
		var (
			f    switchboard.FailureCount
			last int64
		)
		if err := rows.Scan(&f.ErrorCode, &f.Count, &last); err != nil {
			return nil, fmt.Errorf("sqlite: failures by code: %w", err)
		}
		f.Last = fromMicros(last)
		out = append(out, f)
	}
	return out, rows.Err()
}

// latencyColumns sums the delivered messages into the buckets of switchboard.LatencyBounds, lat
// being a latency in microseconds (NULL when not delivered).
func latencyColumns() string {
	var b strings.Builder
	lo := int64(-1)
	for _, bound := range switchboard.LatencyBounds {
		hi := bound.Microseconds()
		fmt.Fprintf(&b, ", sum(CASE WHEN lat > %d AND lat <= %d THEN 1 ELSE 0 END)", lo, hi-1)
		lo = hi - 1
	}
	fmt.Fprintf(&b, ", sum(CASE WHEN lat > %d THEN 1 ELSE 0 END)", lo)
	return b.String()
}

// qDeliveryStats ranges the covering index messages_created on created_at; a message's events are
// read (by message_events_message) only for the delivered ones, for their latency.
var qDeliveryStats = `WITH d AS (
		SELECT m.created_at - (m.created_at % ?) AS b, m.from_number, m.category, m.status,
			CASE WHEN m.status IN ('delivered', 'read') THEN
				(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at
			END AS lat
		FROM messages m WHERE m.created_at >= ? AND m.created_at < ?)
	SELECT b, from_number, category, count(*),
		sum(CASE WHEN status IN ('delivered', 'read') THEN 1 ELSE 0 END),
		sum(CASE WHEN status IN ('failed', 'undelivered') THEN 1 ELSE 0 END),
		coalesce(sum(lat), 0)` + latencyColumns() + `
	FROM d GROUP BY b, from_number, category ORDER BY b, from_number, category`

// deliveryStatsScan aggregates messages by time bucket, sender and category, reading every
// message of the range (DeliveryStats, charts.go, reads the running totals instead).
func (db *DB) deliveryStatsScan(ctx context.Context, since, until time.Time, bucket time.Duration) ([]switchboard.DeliveryStat, error) {
	bu := bucket.Microseconds()
	if bu <= 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_bucket", "a bucket must be at least a microsecond")
	}
	rows, err := db.r.QueryContext(ctx, qDeliveryStats, bu, micros(since), micros(until))
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery stats: %w", err)
	}
	defer rows.Close()
	var out []switchboard.DeliveryStat
	for rows.Next() {
		var (
			s      switchboard.DeliveryStat
			b, sum int64
			lat    [6]sql.NullInt64
		)
		dst := []any{&b, &s.From, &s.Category, &s.Total, &s.Delivered, &s.Failed, &sum}
		for i := range lat {
			dst = append(dst, &lat[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sqlite: delivery stats: %w", err)
		}
		s.Bucket, s.LatencySum = fromMicros(b), time.Duration(sum)*time.Microsecond
		for i := range lat {
			s.Latency[i] = int(lat[i].Int64)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// OptedOut lists the recipients whose latest record for a scope is an opt-out.
func (db *DB) OptedOut(ctx context.Context, limit int) ([]*switchboard.ConsentRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sqlstore.ConsentCols+` FROM consent_records
		WHERE id IN (SELECT max(id) FROM consent_records GROUP BY phone, scope) AND state = ?
		ORDER BY at DESC, id DESC LIMIT ?`, string(switchboard.ConsentOptedOut), sqlstore.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: opted out: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.ConsentRecord
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: opted out: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// The dashboard's table travels in `db copy` like the others (see exportKinds).
func init() {
	exportKinds["dashboard_sessions.created_at"] = kindTime
	exportKinds["dashboard_sessions.expires_at"] = kindTime
}
