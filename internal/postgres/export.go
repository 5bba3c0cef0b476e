package postgres

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reader is a consistent, read-only view of a store's database, for copying its data to another
// store (`switchboard db copy`). Every read runs in one read-only, repeatable-read transaction:
// the rows it exports belong to one moment even while nodes write meanwhile, and the tables it
// has read cannot be truncated under it.
//
// Rows are exported as engine-neutral Go values: time.Time in UTC, bool, string (JSON as its
// text, exactly as a json column keeps it and as jsonb prints it), int64, float64, []byte, nil.
type Reader struct {
	tx     pgx.Tx
	tables []string
}

// OpenReader begins the read transaction of a Reader. It fails when the database's schema is not
// the one this build's migrations make. The Reader must be closed.
func (db *DB) OpenReader(ctx context.Context) (_ *Reader, err error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	r := &Reader{tx: tx}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.tables, err = listTables(ctx, tx); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, tx); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return r, nil
}

// checkSchema compares the migrations the database records with this build's.
func checkSchema(ctx context.Context, q queryer) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	rows, err := q.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("not a Switchboard database (no schema_migrations): %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	known := map[int64]bool{}
	for _, m := range ms {
		known[int64(m.Version)] = true
		if !applied[int64(m.Version)] {
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

// Identity names the server, database and schema the store uses, so that two URLs can be found
// to name one store (`switchboard db copy` refuses to copy a store onto itself). The server is
// told by its start time, which every role may read.
func (db *DB) Identity(ctx context.Context) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT pg_postmaster_start_time()::text || ' ' || current_database() || ' ' ||
		COALESCE(current_schema(), '')`).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("postgres: identity: %w", err)
	}
	return id, nil
}

// Close ends the read transaction.
func (r *Reader) Close() error {
	return r.tx.Rollback(context.Background())
}

// Tables lists the tables of the store's schema (the migrations' bookkeeping aside), by name.
func (r *Reader) Tables(context.Context) ([]string, error) {
	return slices.Clone(r.tables), nil
}

// Count returns how many rows table holds.
func (r *Reader) Count(ctx context.Context, table string) (int64, error) {
	if !slices.Contains(r.tables, table) {
		return 0, fmt.Errorf("postgres: count: no table %q", table)
	}
	return countRows(ctx, r.tx, table)
}

// Export returns the columns of table and an iterator over its rows in primary key order, each
// row holding engine-neutral values in the order of columns. The iterator may be used once; it
// stops at the first error, which it yields.
func (r *Reader) Export(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error) {
	if !slices.Contains(r.tables, table) {
		return nil, nil, fmt.Errorf("postgres: export: no table %q", table)
	}
	ident := pgx.Identifier{table}.Sanitize()
	crows, err := r.tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: export %s: columns: %w", table, err)
	}
	type col struct{ name, typ string }
	cols, err := pgx.CollectRows(crows, func(r pgx.CollectableRow) (col, error) {
		var c col
		err := r.Scan(&c.name, &c.typ)
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: export %s: columns: %w", table, err)
	}
	krows, err := r.tx.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, ident)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: export %s: primary key: %w", table, err)
	}
	key, err := pgx.CollectRows(krows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: export %s: primary key: %w", table, err)
	}
	var sel, order []string
	for _, c := range cols {
		columns = append(columns, c.name)
		e := pgx.Identifier{c.name}.Sanitize()
		if c.typ == "json" || c.typ == "jsonb" {
			e += "::text" // the text, not a decoded value
		}
		sel = append(sel, e)
	}
	for _, k := range key {
		order = append(order, pgx.Identifier{k}.Sanitize())
	}
	if len(order) == 0 {
		order = []string{"ctid"}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + ident + " ORDER BY " + strings.Join(order, ", ")
	return columns, func(yield func([]any, error) bool) {
		rows, err := r.tx.Query(ctx, q)
		if err != nil {
			yield(nil, fmt.Errorf("postgres: export %s: %w", table, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				yield(nil, fmt.Errorf("postgres: export %s: %w", table, err))
				return
			}
			for i, v := range vals {
				if vals[i], err = exportValue(v); err != nil {
					yield(nil, fmt.Errorf("postgres: export %s.%s: %w", table, columns[i], err))
					return
				}
			}
			if !yield(vals, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("postgres: export %s: %w", table, err))
		}
	}, nil
}

// exportValue turns a value as pgx decodes it into the engine-neutral form.
func exportValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, int64, float64, bool, []byte:
		return v, nil
	case int32:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case float32:
		return float64(v), nil
	case time.Time:
		return v.UTC(), nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}
