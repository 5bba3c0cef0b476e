// Package sqlstore is the SQL plumbing the two stores share: JSON columns, NULLs, listing limits
// and pages, row collection and WHERE clauses in either placeholder style. It holds no decision
// (those are the root package's, see rules_*.go) and no query: each engine keeps its own SQL,
// transactions and batching.
package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard"
)

// JSONList encodes v for a JSON column, or NULL (nil) when it is empty.
func JSONList[T any](v []T) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// JSONMap encodes v for a JSON column, or NULL (nil) when it is empty.
func JSONMap(v map[string]string) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// RawJSON passes a raw payload to a JSON column unchanged, or NULL (nil) when it is empty.
func RawJSON(p json.RawMessage) any {
	if len(p) == 0 {
		return nil
	}
	return string(p)
}

// NullString stores "" as NULL, for columns whose indexes depend on NULL meaning absent.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// JSONArray encodes v for a JSON column that is never NULL: "[]" when v is empty.
func JSONArray[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// MessageJSON encodes a message's JSON columns: its media URLs and metadata (NULL when empty) and
// its WhatsApp options (see switchboard.EncodeWhatsAppOptions).
func MessageJSON(m *switchboard.Message) (media, meta any, whatsapp string, err error) {
	if media, err = JSONList(m.MediaURLs); err != nil {
		return nil, nil, "", fmt.Errorf("media_urls: %w", err)
	}
	if meta, err = JSONMap(m.Metadata); err != nil {
		return nil, nil, "", fmt.Errorf("metadata: %w", err)
	}
	if whatsapp, err = switchboard.EncodeWhatsAppOptions(m.WhatsApp); err != nil {
		return nil, nil, "", fmt.Errorf("whatsapp: %w", err)
	}
	return media, meta, whatsapp, nil
}

// EndpointJSON encodes an endpoint's JSON columns: its event types and its secrets (an empty
// list, never NULL).
func EndpointJSON(e *switchboard.Endpoint) (types, secrets string, err error) {
	tb, err := json.Marshal(e.EventTypes)
	if err != nil {
		return "", "", err
	}
	ss := e.Secrets
	if ss == nil {
		ss = []switchboard.EndpointSecret{}
	}
	sb, err := json.Marshal(ss)
	if err != nil {
		return "", "", err
	}
	return string(tb), string(sb), nil
}

// Listing limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Limit turns a caller's limit into the one a listing uses: DefaultLimit for none, at most
// MaxLimit.
func Limit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// LimitOr is Limit for a listing whose default is def, and which answers def, not MaxLimit, to
// a limit over MaxLimit (the verification listings').
func LimitOr(n, def int) int {
	if n <= 0 || n > MaxLimit {
		return def
	}
	return n
}

// ListQuery completes a listing newest first by the key column col: it adds the cursor's
// condition (col < cursor) to w and returns sel with w's WHERE clause, the order and a LIMIT of
// limit+1 (so that Page can tell whether there is more), and the arguments.
func ListQuery(w *Where, sel, col, cursor string, limit int) (string, []any) {
	if cursor != "" {
		w.Add(col+" < ?", cursor)
	}
	q := sel + w.SQL() + " ORDER BY " + col + " DESC LIMIT " + w.Next()
	return q, append(w.Args, limit+1)
}

// Page cuts a listing read with LIMIT limit+1 to limit items and returns the cursor of the next
// page: the key of the last item kept, or "" when there is no more.
func Page[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, key(items[limit-1])
}

// Rows is what Collect reads: *sql.Rows and pgx.Rows both are.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Scanner is a row to scan: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows all are.
type Scanner interface{ Scan(dest ...any) error }

// Collect scans every row of rows with scan. The caller closes rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Where builds a WHERE clause. Conditions are written with "?" for their parameters; with
// Numbered (PostgreSQL) each becomes $1, $2, … in order, else it stays "?" (SQLite).
type Where struct {
	Numbered bool
	Conds    []string
	Args     []any
}

// Add adds a condition; each "?" in cond takes the next of args.
func (w *Where) Add(cond string, args ...any) {
	for _, a := range args {
		w.Args = append(w.Args, a)
		if w.Numbered {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.Args)), 1)
		}
	}
	w.Conds = append(w.Conds, cond)
}

// In adds "col IN (…)" with one parameter per value; nothing when values is empty.
func In[T any](w *Where, col string, values []T) {
	if len(values) == 0 {
		return
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	w.Add(col+" IN (?"+strings.Repeat(", ?", len(values)-1)+")", args...)
}

// Next returns the placeholder of the next parameter: "?" or "$n".
func (w *Where) Next() string {
	if w.Numbered {
		return "$" + strconv.Itoa(len(w.Args)+1)
	}
	return "?"
}

// TenantIn adds the condition that col, the tenant column of table that leads one of its
// indexes, is tenant; or for tenant "" (every tenant) that it is any tenant of table, found by a
// loose scan of that index (one seek per tenant, as DueSenders walks senders): the index is then
// read as one range per tenant rather than not at all. The tenants are those of the rows, not
// of the tenants table, so that a row of a tenant nobody created is still listed.
func TenantIn(w *Where, col, table, tenant string) {
	if tenant != "" {
		w.Add(col+" = ?", tenant)
		return
	}
	w.Add(AnyTenant(col, table))
}

// AnyTenant is TenantIn's condition for every tenant: col is one of the tenants of table.
func AnyTenant(col, table string) string {
	return col + " IN (WITH RECURSIVE tn(t) AS (SELECT min(tenant) FROM " + table +
		" UNION ALL SELECT (SELECT min(tenant) FROM " + table + " WHERE tenant > tn.t) FROM tn WHERE tn.t IS NOT NULL)" +
		" SELECT t FROM tn WHERE t IS NOT NULL)"
}

// MessageMetadata adds a metadata filter (if any) on messages of tenant ("" for every tenant) and
// returns the FROM clause and the ID column that the listing orders and pages by: a tenant's
// messages with one pair, newest first, are a range of message_metadata's primary key (tenant,
// key, value, message_id). Without a metadata filter it adds nothing: the caller filters the
// tenant of messages.
func MessageMetadata(w *Where, tenant string, m *switchboard.MetadataMatch) (from, idCol string) {
	if m == nil {
		return " FROM messages", "id"
	}
	TenantIn(w, "mm.tenant", "message_metadata", tenant)
	w.Add("mm.key = ?", m.Key)
	w.Add("mm.value = ?", m.Value)
	return " FROM message_metadata mm JOIN messages ON messages.id = mm.message_id", "mm.message_id"
}

// MessagesQuery completes a listing of messages of tenant ("" for every tenant) newest first by
// ID, reading the columns cols, under w's conditions, a metadata filter and a cursor (see
// MessageMetadata and ListQuery).
func MessagesQuery(w *Where, cols, tenant string, meta *switchboard.MetadataMatch, cursor string, limit int) (string, []any) {
	from, idCol := MessageMetadata(w, tenant, meta)
	if meta == nil && tenant != "" {
		w.Add("tenant = ?", tenant)
	}
	if meta != nil {
		cols = Qualify(cols, "messages") // message_metadata has a tenant column too
	}
	return ListQuery(w, "SELECT "+cols+from, idCol, cursor, limit)
}

// VerificationsQuery completes a listing of the verifications f selects, newest first by ID,
// reading VerificationCols and redacted_at, with w's conditions, a cursor and a LIMIT of limit+1
// (see ListQuery). With a metadata pair it walks verification_metadata's primary key (tenant,
// key, value, verification_id) in page order from the cursor, reading only the verifications it
// lists (every tenant's: the index read tenant by tenant) and checking To and Status on them.
func VerificationsQuery(w *Where, f switchboard.VerificationFilter, limit int) (string, []any) {
	cols, from, idCol := VerificationCols+", redacted_at", " FROM verifications", "id"
	switch {
	case f.Metadata != nil:
		TenantIn(w, "vm.tenant", "verification_metadata", f.Tenant)
		w.Add("vm.key = ?", f.Metadata.Key)
		w.Add("vm.value = ?", f.Metadata.Value)
		cols = Qualify(cols, "verifications") // verification_metadata has a tenant column too
		from = " FROM verification_metadata vm JOIN verifications ON verifications.id = vm.verification_id"
		idCol = "vm.verification_id"
	case f.Tenant != "" || f.To != "":
		// verifications_tenant and verifications_phone lead with the tenant: every tenant's is
		// read tenant by tenant.
		TenantIn(w, "tenant", "verifications", f.Tenant)
	}
	if f.To != "" {
		w.Add("verifications.phone = ?", f.To)
	}
	if f.Status != "" {
		w.Add("verifications.status = ?", string(f.Status))
	}
	return ListQuery(w, "SELECT "+cols+from, idCol, f.Cursor, limit)
}

// Qualify prefixes each column of the comma-separated list cols with table.
func Qualify(cols, table string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// SQL returns " WHERE c1 AND c2 …", or "" without conditions.
func (w *Where) SQL() string {
	if len(w.Conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.Conds, " AND ")
}
