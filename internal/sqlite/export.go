package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/migrate"
)

// This file and import.go move data out of and into a SQLite store table by table, for
// `switchboard db copy`. Rows travel as engine-neutral Go values:
//
//   - time columns as time.Time in UTC (SQLite keeps INTEGER microseconds);
//   - boolean columns as bool (SQLite keeps 0 or 1);
//   - text, including JSON, as string; integers as int64; reals as float64; NULL as nil.

// exportKinds names the INTEGER columns that hold something other than an integer, by
// "table.column". A column missing here would travel as int64 and be refused by a target that
// keeps a time or a boolean (PostgreSQL), so a forgotten entry fails loudly rather than silently.
var exportKinds = map[string]columnKind{
	"messages.send_at":                  kindTime,
	"messages.valid_until":              kindTime,
	"messages.next_attempt_at":          kindTime,
	"messages.attempt_in_flight":        kindBool,
	"messages.attempt_started_at":       kindTime,
	"messages.lease_until":              kindTime,
	"messages.created_at":               kindTime,
	"messages.updated_at":               kindTime,
	"messages.redacted_at":              kindTime,
	"messages.fallback_due_at":          kindTime,
	"messages.price_due_at":             kindTime,
	"messages.fallback_pending":         kindBool,
	"conversations.window_notified_for": kindTime,
	"message_events.at":                 kindTime,
	"idempotency_keys.created_at":       kindTime,
	"tenants.created_at":                kindTime,
	"tenants.updated_at":                kindTime,
	"api_keys.created_at":               kindTime,
	"api_keys.revoked_at":               kindTime,
	"api_keys.last_used_at":             kindTime,
	"inbound_messages.received_at":      kindTime,
	"conversations.last_message_at":     kindTime,
	"conversations.last_inbound_at":     kindTime,
	"conversations.last_outbound_at":    kindTime,
	"conversations.created_at":          kindTime,
	"alert_states.changed_at":           kindTime,
	"webhook_events.applied":            kindBool,
	"webhook_events.received_at":        kindTime,
	"consent_records.at":                kindTime,
	"app_events.at":                     kindTime,
	"app_events.fanned_out":             kindBool,
	"app_events.redacted_at":            kindTime,
	"endpoints.failing_since":           kindTime,
	"endpoints.disabled_at":             kindTime,
	"endpoints.created_at":              kindTime,
	"endpoints.updated_at":              kindTime,
	"deliveries.next_attempt_at":        kindTime,
	"deliveries.last_attempt_at":        kindTime,
	"deliveries.lease_until":            kindTime,
	"deliveries.created_at":             kindTime,
	"deliveries.updated_at":             kindTime,
	// Verifications (one-time codes).
	"verifications.fallback_at":       kindTime,
	"verifications.expires_at":        kindTime,
	"verifications.created_at":        kindTime,
	"verifications.updated_at":        kindTime,
	"verifications.redacted_at":       kindTime,
	"verify_rate_hits.window_start":   kindTime,
	"verify_rate_hits.window_end":     kindTime,
	"verify_refusals.at":              kindTime,
	"verify_blocks.until":             kindTime,
	"verify_blocks.at":                kindTime,
	"calls.next_attempt_at":           kindTime,
	"calls.lease_until":               kindTime,
	"calls.created_at":                kindTime,
	"calls.redacted_at":               kindTime,
	"media_downloads.done":            kindBool,
	"media_downloads.next_attempt_at": kindTime,
	"media_downloads.lease_until":     kindTime,
	"media_downloads.created_at":      kindTime,
	"media_downloads.updated_at":      kindTime,
	"media_blobs.created_at":          kindTime,
	"senders.updated_at":              kindTime,
	"senders.deleted_at":              kindTime,
	"tenant_credentials.validated_at": kindTime,
	"tenant_credentials.updated_at":   kindTime,
}

type columnKind int

const (
	kindPlain columnKind = iota // exported as SQLite returns it
	kindTime                    // INTEGER microseconds since the epoch
	kindBool                    // INTEGER 0 or 1
)

// Reader is a consistent, read-only view of a SQLite store's file, for copying its data to another
// store (`switchboard db copy`). It opens the file read-only, so that SQLite refuses any write
// through it, and reads every table in one read transaction: the rows it exports belong to one
// moment even if a process writes the file meanwhile.
type Reader struct {
	db     *sql.DB
	tx     *sql.Tx
	tables []string
}

// OpenReader opens the store file at path read-only. It fails when the file does not exist, and
// when its schema is not the one this build's migrations make (an older file must be migrated
// first; this build cannot read a newer one faithfully).
func OpenReader(ctx context.Context, path string) (_ *Reader, err error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: need a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: no database at %s", path)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: %s is not a database file", path)
	}
	// A file: URI, so that SQLite itself reads mode=ro; the URL escapes any character of the path
	// that a URI would read otherwise.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() +
		"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: the read transaction is the snapshot every export reads.
	db.SetMaxOpenConns(1)
	r := &Reader{db: db}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.tx, err = db.BeginTx(ctx, nil); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// A deferred transaction takes its snapshot at its first read.
	if r.tables, err = listTables(ctx, r.tx); err != nil {
		return nil, err
	}
	if err := r.checkSchema(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return r, nil
}

// checkSchema compares the migrations the file records with this build's.
func (r *Reader) checkSchema(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	rows, err := r.tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("not a Switchboard database (no schema_migrations): %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	return schemaMatches(applied, ms)
}

// schemaMatches reports, as an error, how the applied migration versions differ from ms.
func schemaMatches(applied map[int]bool, ms []migrate.Migration) error {
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
		if !applied[m.Version] {
			return fmt.Errorf("the database lacks migration %s: run `switchboard migrate` on it with this version first", m.Name)
		}
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("the database has migration %d, which this version of switchboard does not know: use the version that wrote it", v)
		}
	}
	return nil
}

// Close ends the read transaction and closes the file.
func (r *Reader) Close() error {
	if r.tx != nil {
		r.tx.Rollback() //nolint:errcheck // a read-only transaction has nothing to lose
	}
	return r.db.Close()
}

// Tables lists the store's tables (SQLite's own and the migrations' bookkeeping aside), by name.
func (r *Reader) Tables(context.Context) ([]string, error) {
	return slices.Clone(r.tables), nil
}

// Count returns how many rows table holds.
func (r *Reader) Count(ctx context.Context, table string) (int64, error) {
	return count(ctx, r.tx, r.tables, table)
}

// Export returns the columns of table and an iterator over its rows in primary key order, each
// row holding engine-neutral values (see the top of this file) in the order of columns. The
// iterator may be used once; it stops at the first error, which it yields.
func (r *Reader) Export(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error) {
	if !slices.Contains(r.tables, table) {
		return nil, nil, fmt.Errorf("sqlite: export: no table %q", table)
	}
	cols, err := tableColumns(ctx, r.tx, table)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: export %s: %w", table, err)
	}
	kinds := make([]columnKind, len(cols))
	var names, order []string
	for i, c := range cols {
		kinds[i] = exportKinds[table+"."+c.name]
		names = append(names, c.name)
	}
	for _, c := range slices.SortedFunc(slices.Values(cols), func(a, b column) int { return a.pk - b.pk }) {
		if c.pk > 0 {
			order = append(order, quoteIdent(c.name))
		}
	}
	if len(order) == 0 {
		order = []string{"rowid"}
	}
	q := "SELECT " + strings.Join(mapSlice(names, quoteIdent), ", ") + " FROM " + quoteIdent(table) +
		" ORDER BY " + strings.Join(order, ", ")
	return names, func(yield func([]any, error) bool) {
		rows, err := r.tx.QueryContext(ctx, q)
		if err != nil {
			yield(nil, fmt.Errorf("sqlite: export %s: %w", table, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			row := make([]any, len(names))
			ptrs := make([]any, len(names))
			for i := range row {
				ptrs[i] = &row[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				yield(nil, fmt.Errorf("sqlite: export %s: %w", table, err))
				return
			}
			for i, v := range row {
				if row[i], err = exportValue(v, kinds[i]); err != nil {
					yield(nil, fmt.Errorf("sqlite: export %s.%s: %w", table, names[i], err))
					return
				}
			}
			if !yield(row, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("sqlite: export %s: %w", table, err))
		}
	}, nil
}

// exportValue turns a value as SQLite returns it into the engine-neutral form.
func exportValue(v any, kind columnKind) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		switch kind {
		case kindTime:
			return fromMicros(v), nil
		case kindBool:
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("boolean holds %d", v)
			}
			return v == 1, nil
		}
		return v, nil
	case []byte:
		if kind == kindPlain {
			return v, nil
		}
	case string, float64:
		if kind == kindPlain {
			return v, nil
		}
	case time.Time, bool:
		// The driver parses some declared types itself; the schema declares none of them.
		return v, nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

// querier is a transaction or a database.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// count counts the rows of table, one of tables.
func count(ctx context.Context, q querier, tables []string, table string) (int64, error) {
	if !slices.Contains(tables, table) {
		return 0, fmt.Errorf("sqlite: count: no table %q", table)
	}
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", table, err)
	}
	return n, nil
}

// column is a column of a table, as PRAGMA table_info describes it.
type column struct {
	name string
	pk   int // position in the primary key, 1-based; 0 when not part of it
}

func tableColumns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.pk); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %q", table)
	}
	return cols, nil
}

// quoteIdent quotes a table or column name for SQL text.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}
