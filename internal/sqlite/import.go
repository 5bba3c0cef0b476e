package sqlite

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// ReadFunc returns the columns of a table of another store and an iterator over its rows, each in
// the order of columns, as engine-neutral values (see export.go). A table the other store does not
// have has no columns (and no rows).
//
// Reader.Export and postgres.Reader.Export are ReadFuncs.
type ReadFunc = func(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error)

// Tables lists the store's tables (SQLite's own and the migrations' bookkeeping aside), by name.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	return listTables(ctx, db.r)
}

// Count returns how many rows table holds.
func (db *DB) Count(ctx context.Context, table string) (int64, error) {
	tables, err := listTables(ctx, db.r)
	if err != nil {
		return 0, err
	}
	return count(ctx, db.r, tables, table)
}

// Import fills tables, in the order given, from read, in one transaction: either every row is
// copied or none is. Every table must be empty, or with truncate is emptied first (in the same
// transaction, so a failed import leaves the old rows in place). Nothing is written outside
// tables. Imported row IDs are kept; SQLite numbers later rows past them by itself. Import returns
// the rows copied per table.
//
// The import is one write of the store's writer: the store's other writes wait for it.
func (db *DB) Import(ctx context.Context, tables []string, truncate bool, read ReadFunc) (map[string]int64, error) {
	var copied map[string]int64
	err := db.write(ctx, func(t *wtx) error {
		copied = make(map[string]int64, len(tables))
		have, err := listTables(t.ctx, t.tx)
		if err != nil {
			return err
		}
		for _, name := range tables {
			if !slices.Contains(have, name) {
				return fmt.Errorf("sqlite: import: the database has no table %q", name)
			}
		}
		if truncate {
			// Referring rows first: foreign keys are enforced.
			for _, name := range slices.Backward(tables) {
				if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM "+quoteIdent(name)); err != nil {
					return fmt.Errorf("sqlite: import: empty %s: %w", name, err)
				}
			}
		} else {
			for _, name := range tables {
				var full bool
				if err := t.tx.QueryRowContext(t.ctx, "SELECT EXISTS (SELECT 1 FROM "+quoteIdent(name)+")").Scan(&full); err != nil {
					return fmt.Errorf("sqlite: import: %s: %w", name, err)
				}
				if full {
					return fmt.Errorf("sqlite: import: table %s is not empty", name)
				}
			}
		}
		for _, name := range tables {
			n, err := importTable(ctx, t, name, read)
			if err != nil {
				return err
			}
			copied[name] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return copied, nil
}

// importTable copies one table from read. Reads use ctx, so that canceling the import stops it
// (and rolls it back); writes run in the writer's transaction.
func importTable(ctx context.Context, t *wtx, table string, read ReadFunc) (int64, error) {
	columns, rows, err := read(ctx, table)
	if err != nil {
		return 0, err
	}
	if len(columns) == 0 {
		return 0, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
	q := "INSERT INTO " + quoteIdent(table) + " (" + strings.Join(mapSlice(columns, quoteIdent), ", ") + ") VALUES (" + marks + ")"
	stmt, err := t.tx.PrepareContext(t.ctx, q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: import %s: %w", table, err)
	}
	defer stmt.Close()
	var n int64
	for row, err := range rows {
		if err != nil {
			return 0, err
		}
		if len(row) != len(columns) {
			return 0, fmt.Errorf("sqlite: import %s: a row of %d values for %d columns", table, len(row), len(columns))
		}
		args := make([]any, len(row))
		for i, v := range row {
			if args[i], err = importValue(v); err != nil {
				return 0, fmt.Errorf("sqlite: import %s.%s: %w", table, columns[i], err)
			}
		}
		if _, err := stmt.ExecContext(t.ctx, args...); err != nil {
			return 0, fmt.Errorf("sqlite: import %s: %w", table, err)
		}
		n++
	}
	return n, nil
}

// importValue turns an engine-neutral value into what the schema stores.
func importValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, int64, float64, []byte:
		return v, nil
	case time.Time:
		return micros(v), nil
	case bool:
		return boolInt(v), nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

// listTables lists the tables, SQLite's own and schema_migrations aside, by name.
func listTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlite: list tables: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	return names, nil
}
