package postgres

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// This file moves data into a PostgreSQL store table by table, for `switchboard db copy`. Rows
// arrive as engine-neutral Go values (time.Time, bool, string, int64, float64, []byte, nil; JSON
// as its text), which pgx encodes into the columns' own types.

// ReadFunc returns the columns of a table of another store and an iterator over its rows, each in
// the order of columns. A table the other store does not have has no columns (and no rows).
//
// sqlite.Reader.Export and Reader.Export are ReadFuncs.
type ReadFunc = func(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error)

// importLockTimeout bounds the wait for the tables' locks: a node still running on the database
// holds them briefly and often, and an import should fail clearly rather than wait behind it.
const importLockTimeout = "30s"

// Tables lists the tables of the store's schema (the migrations' bookkeeping aside), by name.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	return listTables(ctx, db.pool)
}

// Count returns how many rows table holds.
func (db *DB) Count(ctx context.Context, table string) (int64, error) {
	return countRows(ctx, db.pool, table)
}

// Import fills tables, in the order given, from read, in one transaction: either every row is
// copied or none is. Every table must be empty, or with truncate is emptied first (in the same
// transaction, so a failed import leaves the old rows in place). Nothing is written outside
// tables. Identity columns keep the imported values, and their sequences are moved past the
// largest so that rows created afterwards get new IDs. Import returns the rows copied per table.
//
// The tables are locked for the whole import, against writers (and, with truncate, readers);
// a node serving on the database makes Import fail after a while rather than interleave with it.
func (db *DB) Import(ctx context.Context, tables []string, truncate bool, read ReadFunc) (copied map[string]int64, err error) {
	if len(tables) == 0 {
		return map[string]int64{}, nil
	}
	tx, err := db.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return nil, fmt.Errorf("postgres: import: begin: %w", err)
	}
	defer rollback(ctx, tx)
	have, err := listTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	idents := make([]string, len(tables))
	for i, t := range tables {
		if !slices.Contains(have, t) {
			return nil, fmt.Errorf("postgres: import: the database has no table %q", t)
		}
		idents[i] = pgx.Identifier{t}.Sanitize()
	}
	list := strings.Join(idents, ", ")
	mode := "EXCLUSIVE"
	if truncate {
		mode = "ACCESS EXCLUSIVE"
	}
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+importLockTimeout+"'"); err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+list+" IN "+mode+" MODE"); err != nil {
		if e := pgError(err); e != nil && e.Code == "55P03" { // lock_not_available
			return nil, fmt.Errorf("postgres: import: the tables stayed in use for %s (is a node running on this database? stop it first): %w", importLockTimeout, err)
		}
		return nil, fmt.Errorf("postgres: import: lock: %w", err)
	}
	if truncate {
		// No CASCADE: a table of someone else's that refers to ours makes this fail, not empty it.
		if _, err := tx.Exec(ctx, "TRUNCATE "+list+" RESTART IDENTITY"); err != nil {
			return nil, fmt.Errorf("postgres: import: truncate: %w", err)
		}
	} else {
		for _, t := range tables {
			var full bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{t}.Sanitize()+")").Scan(&full); err != nil {
				return nil, fmt.Errorf("postgres: import: %s: %w", t, err)
			}
			if full {
				return nil, fmt.Errorf("postgres: import: table %s is not empty", t)
			}
		}
	}

	copied = make(map[string]int64, len(tables))
	for _, t := range tables {
		n, err := copyTable(ctx, tx, t, read)
		if err != nil {
			return nil, err
		}
		copied[t] = n
	}
	if err := resetIdentities(ctx, tx, tables); err != nil {
		return nil, err
	}
	if err := commit(ctx, tx); err != nil {
		return nil, err
	}
	return copied, nil
}

// copyTable copies one table from read with COPY.
func copyTable(ctx context.Context, tx pgx.Tx, table string, read ReadFunc) (int64, error) {
	columns, rows, err := read(ctx, table)
	if err != nil {
		return 0, err
	}
	if len(columns) == 0 {
		return 0, nil
	}
	next, stop := iter.Pull2(rows)
	defer stop()
	// COPY turns the source's error into the server's refusal, which keeps only its text: keep
	// the error itself for the caller.
	var srcErr error
	src := pgx.CopyFromFunc(func() ([]any, error) {
		row, err, ok := next()
		switch {
		case !ok:
			return nil, nil
		case err != nil:
			srcErr = err
		case len(row) != len(columns):
			srcErr = fmt.Errorf("postgres: import %s: a row of %d values for %d columns", table, len(row), len(columns))
		}
		return row, srcErr
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
	if srcErr != nil {
		return 0, srcErr
	}
	if err != nil {
		if e := invalidText(err); e != nil {
			return 0, fmt.Errorf("postgres: import %s: a text value holds a NUL character, which PostgreSQL cannot keep: %w", table, err)
		}
		return 0, fmt.Errorf("postgres: import %s: %w", table, err)
	}
	return n, nil
}

// resetIdentities moves the sequence of every identity column of tables past the column's
// largest value.
func resetIdentities(ctx context.Context, tx pgx.Tx, tables []string) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES' AND table_name = ANY($1)
		ORDER BY table_name, column_name`, tables)
	if err != nil {
		return fmt.Errorf("postgres: import: identity columns: %w", err)
	}
	type col struct{ table, column string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		err := r.Scan(&c.table, &c.column)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("postgres: import: identity columns: %w", err)
	}
	for _, c := range cols {
		t, k := pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.column}.Sanitize()
		q := "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max(" + k + "), 0) + 1, false) FROM " + t
		if _, err := tx.Exec(ctx, q, t, c.column); err != nil {
			return fmt.Errorf("postgres: import: reset the sequence of %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}

// queryer is a pool, a connection or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// listTables lists the tables of the current schema, schema_migrations aside.
func listTables(ctx context.Context, q queryer) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
		ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	return names, nil
}

// countRows counts the rows of table.
func countRows(ctx context.Context, q queryer, table string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count %s: %w", table, err)
	}
	return n, nil
}
