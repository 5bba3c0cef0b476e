package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

// CreateSession stores a new dashboard session.
func (db *DB) CreateSession(ctx context.Context, s *switchboard.DashboardSession) error {
	if err := switchboard.CheckSession(s); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO dashboard_sessions (hash, subject, api_key_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, s.Hash, s.Subject, s.APIKeyHash, s.CreatedAt, s.ExpiresAt)
	if _, ok := uniqueViolation(err); ok {
		return switchboard.ErrSessionExists()
	} else if err != nil {
		return wrap("insert session", err)
	}
	return nil
}

// GetSession returns an unexpired session, or ENOTFOUND.
func (db *DB) GetSession(ctx context.Context, hash string, now time.Time) (*switchboard.DashboardSession, error) {
	var s switchboard.DashboardSession
	err := db.pool.QueryRow(ctx, `SELECT hash, subject, api_key_hash, created_at, expires_at FROM dashboard_sessions
		WHERE hash = $1 AND expires_at > $2`, hash, now).Scan(&s.Hash, &s.Subject, &s.APIKeyHash, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrSessionNotFound()
	} else if err != nil {
		return nil, wrap("session", err)
	}
	s.CreatedAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.ExpiresAt)
	return &s, nil
}

// DeleteSession removes a session.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE hash = $1`, hash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteExpiredSessions removes expired sessions.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// SearchMessages lists messages newest first by the criteria of q.
func (db *DB) SearchMessages(ctx context.Context, q switchboard.MessageSearch) ([]*switchboard.Message, string, error) {
	w := sqlstore.Where{Numbered: true}
	switch {
	case q.Metadata != nil: // the metadata index leads with the tenant (MessagesQuery)
	case q.Tenant != "":
		w.Add("tenant = ?", q.Tenant)
	case q.To != "":
		// messages_to leads with the tenant: every tenant's is read tenant by tenant.
		w.Add(sqlstore.AnyTenant("tenant", "messages"))
	}
	if q.To != "" {
		w.Add("to_number = ?", q.To)
	}
	if q.ToSuffix != "" {
		// The suffix is digits only (the caller checks), so it holds no LIKE wildcard.
		w.Add("to_number LIKE ?", "%"+q.ToSuffix)
	}
	if q.From != "" {
		w.Add("from_number = ?", q.From)
	}
	if q.ErrorCode != 0 {
		w.Add("error_code = ?", q.ErrorCode)
	}
	if q.CreatedAfter != nil {
		w.Add("created_at >= ?", *q.CreatedAfter)
	}
	if q.CreatedBefore != nil {
		w.Add("created_at < ?", *q.CreatedBefore)
	}
	limit := sqlstore.Limit(q.Limit)
	var (
		sq   string
		args []any
	)
	if q.Metadata != nil {
		// A metadata pair drives the search from its index (see ListMessages); the statuses are
		// checked on the messages it reads.
		if len(q.Statuses) > 0 {
			statuses := make([]string, len(q.Statuses))
			for i, st := range q.Statuses {
				statuses[i] = string(st)
			}
			w.Add("status = ANY(?)", statuses)
		}
		sq, args = sqlstore.MessagesQuery(&w, sqlstore.MessageCols, q.Tenant, q.Metadata, q.Cursor, limit)
	} else {
		if q.Cursor != "" {
			w.Add("id < ?", q.Cursor)
		}
		sq, args = searchQuery(q.Statuses, w, limit+1)
	}
	msgs, err := scanMessages(db.pool.Query(ctx, sq, args...))
	if err != nil {
		return nil, "", wrap("search messages", err)
	}
	msgs, next := sqlstore.Page(msgs, limit, func(x *switchboard.Message) string { return x.ID })
	return msgs, next, nil
}

// searchQuery builds the search of messages newest first under the conditions of w, at most limit
// rows. A search by status walks the index messages_status (status, id) backwards: one status is
// one walk that stops at the page's limit; several are one such walk each, merged (status =
// ANY(...) over the index could not stop early: its order is by status first).
func searchQuery(statuses []switchboard.Status, w sqlstore.Where, limit int) (string, []any) {
	cond, n := w.SQL(), len(w.Args)+1
	args := append(w.Args, limit)
	lim := " ORDER BY id DESC LIMIT $" + strconv.Itoa(n)
	page := func(status string) string {
		c := cond
		switch {
		case status == "":
		case c == "":
			c = " WHERE status = " + status
		default:
			c = " WHERE status = " + status + " AND " + strings.TrimPrefix(c, " WHERE ")
		}
		return "SELECT " + sqlstore.MessageCols + " FROM messages" + c + lim
	}
	switch len(statuses) {
	case 0:
		return page(""), args
	case 1:
		return page("$" + strconv.Itoa(n+1)), append(args, string(statuses[0]))
	}
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = "(" + page("$"+strconv.Itoa(n+1+i)) + ")"
		args = append(args, string(st))
	}
	return "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") AS p" + lim, args
}

// FailuresByCode counts failed and undelivered messages by error code.
func (db *DB) FailuresByCode(ctx context.Context, since, until time.Time) ([]switchboard.FailureCount, error) {
	rows, err := db.pool.Query(ctx, `SELECT error_code, count(*), max(updated_at) FROM messages
		WHERE status IN ('failed', 'undelivered', 'blocked') AND updated_at >= $1 AND updated_at < $2
		GROUP BY error_code ORDER BY count(*) DESC, error_code`, since, until)
	if err != nil {
		return nil, wrap("failures by code", err)
	}
	defer rows.Close()
	var out []switchboard.FailureCount
	for rows.Next() {
		var (
			f     switchboard.FailureCount
			count int64
		)
		if err := rows.Scan(&f.ErrorCode, &count, &f.Last); err != nil {
			return nil, wrap("failures by code", err)
		}
		f.Count, f.Last = int(count), utc(f.Last)
		out = append(out, f)
	}
	return out, rowsErr("failures by code", rows)
}

// latencyColumns counts the delivered messages into the buckets of switchboard.LatencyBounds,
// lat being a latency in microseconds (NULL when not delivered).
func latencyColumns() string {
	var b strings.Builder
	lo := int64(-1)
	for _, bound := range switchboard.LatencyBounds {
		hi := bound.Microseconds()
		fmt.Fprintf(&b, ", count(*) FILTER (WHERE lat > %d AND lat <= %d)", lo, hi-1)
		lo = hi - 1
	}
	fmt.Fprintf(&b, ", count(*) FILTER (WHERE lat > %d)", lo)
	return b.String()
}

// deliveryStatsScan aggregates messages by time bucket, sender and category, reading every
// message of the range (DeliveryStats, charts.go, reads the running totals instead). Times are
// turned into microseconds since the epoch so that buckets align as SQLite's do.
func (db *DB) deliveryStatsScan(ctx context.Context, since, until time.Time, bucket time.Duration) ([]switchboard.DeliveryStat, error) {
	bu := bucket.Microseconds()
	if bu <= 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_bucket", "a bucket must be at least a microsecond")
	}
	q := `WITH d AS (
		SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint AS cu, m.from_number, m.category, m.status,
			CASE WHEN m.status IN ('delivered', 'read') THEN
				(extract(epoch FROM (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at) * 1000000)::bigint
			END AS lat
		FROM messages m WHERE m.created_at >= $2 AND m.created_at < $3)
	SELECT cu - (cu % $1) AS b, from_number, category, count(*),
		count(*) FILTER (WHERE status IN ('delivered', 'read')),
		count(*) FILTER (WHERE status IN ('failed', 'undelivered')),
		coalesce(sum(lat), 0)::bigint` + latencyColumns() + `
	FROM d GROUP BY 1, from_number, category ORDER BY 1, from_number, category`
	rows, err := db.pool.Query(ctx, q, bu, since, until)
	if err != nil {
		return nil, wrap("delivery stats", err)
	}
	defer rows.Close()
	var out []switchboard.DeliveryStat
	for rows.Next() {
		var (
			s                                switchboard.DeliveryStat
			b, sum, total, delivered, failed int64
			lat                              [6]int64
			from, category                   string
		)
		dst := []any{&b, &from, &category, &total, &delivered, &failed, &sum}
		for i := range lat {
			dst = append(dst, &lat[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, wrap("delivery stats", err)
		}
		s.Bucket, s.From, s.Category = time.UnixMicro(b).UTC(), from, switchboard.Category(category)
		s.Total, s.Delivered, s.Failed = int(total), int(delivered), int(failed)
		s.LatencySum = time.Duration(sum) * time.Microsecond
		for i := range lat {
			s.Latency[i] = int(lat[i])
		}
		out = append(out, s)
	}
	return out, rowsErr("delivery stats", rows)
}

// OptedOut lists the recipients whose latest record for a scope is an opt-out.
func (db *DB) OptedOut(ctx context.Context, limit int) ([]*switchboard.ConsentRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.ConsentCols+` FROM consent_records
		WHERE id IN (SELECT max(id) FROM consent_records GROUP BY phone, scope) AND state = $1
		ORDER BY at DESC, id DESC LIMIT $2`, string(switchboard.ConsentOptedOut), sqlstore.Limit(limit))
	if err != nil {
		return nil, wrap("opted out", err)
	}
	defer rows.Close()
	var out []*switchboard.ConsentRecord
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, wrap("opted out", err)
		}
		out = append(out, c)
	}
	return out, rowsErr("opted out", rows)
}

// rowsErr is the error that ended rows, wrapped, or nil.
func rowsErr(op string, rows pgx.Rows) error {
	if err := rows.Err(); err != nil {
		return wrap(op, err)
	}
	return nil
}
