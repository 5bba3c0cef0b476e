// Package dbcopy copies one Switchboard database into another, table by table and engine to
// engine: `switchboard db copy` moves an embedded SQLite installation to PostgreSQL (and back).
//
// The engines read and write: sqlite.Reader and postgres.Reader export rows as engine-neutral Go
// values from one consistent snapshot, and sqlite.DB and postgres.DB import them in one
// transaction, keeping every ID. This package decides what is copied and in which order, refuses
// what would lose data (a source table it does not know) or overwrite it (a target that is not
// empty, unless forced), and verifies the result by counting the rows on both sides.
package dbcopy

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Tables lists the tables a copy carries, each after the tables its rows refer to. Every table of
// both engines' schemas is here or in runtimeTables; a test keeps it so.
var Tables = []string{
	"tenants", // the tenant of every row below (no foreign keys: the columns default to 'default')
	"messages",
	"message_events",   // refers to messages
	"idempotency_keys", // refers to messages
	"message_metadata", // refers to messages
	"api_keys",
	"senders",
	"sticky_senders",
	"inbound_messages",
	"conversations",
	"webhook_events", // pending callbacks included: applied when their SID appears
	"consent_records",
	"app_events",
	"endpoints",
	"deliveries", // refers to app_events and endpoints
	"alert_states",
	"dashboard_sessions",
	"verifications",
	"verification_metadata", // refers to verifications
	"verify_refusals",
	"verify_blocks",
	"verify_rate_hits", // live counters of rate limits: carried so that limits hold across the move
	"calls",
	"call_metadata",   // refers to calls
	"media_downloads", // the durable queue of inbound media: pending downloads go on after the move
	"media_blobs",     // stored media (media_store: database): the files a cluster serves
	// refers to tenants; its secrets are copied sealed as they are (bound to the tenant, not to
	// the engine), so the target opens them with the same secret_key
	"tenant_credentials",
}

// runtimeTables hold state that is rebuilt at run time: PostgreSQL's sender_buckets (the
// cluster-wide rate limiter, which starts full), both engines' readiness (the row /readyz
// writes) and senders_version (the senders' change marker, which only has to move: the target
// keeps its own). They are not copied; the target's start empty (or as migrated).
var runtimeTables = []string{"sender_buckets", "readiness", "senders_version"}

// derivedTables are kept by both engines' triggers from the tables copied: chart_counts, the
// charts page's running totals of messages, and usage_daily, the usage per tenant and day
// (messages, calls, verifications and the messages' prices). They are neither copied nor
// emptied: the target's triggers take the emptied rows out of them and count the copied ones in.
var derivedTables = []string{"chart_counts", "usage_daily"}

// seededTables hold rows that the migrations write into every new database: tenants holds tenant
// default (migration 0110). A target whose only rows are these is empty; the copy replaces them
// with the source's.
var seededTables = map[string]int64{"tenants": 1}

// ReadFunc returns the columns of a table and an iterator over its rows, each row holding
// engine-neutral values in the order of columns; a table with no columns is left empty.
type ReadFunc = func(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error)

// Source is a consistent, read-only view of the database to copy from (sqlite.Reader,
// postgres.Reader).
type Source interface {
	// Tables lists the database's tables.
	Tables(ctx context.Context) ([]string, error)
	// Count returns how many rows a table holds.
	Count(ctx context.Context, table string) (int64, error)
	// Export returns a table's columns and rows (a ReadFunc).
	Export(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error)
}

// Target is the database to copy into (sqlite.DB, postgres.DB), its schema migrated.
type Target interface {
	// Tables lists the database's tables.
	Tables(ctx context.Context) ([]string, error)
	// Count returns how many rows a table holds.
	Count(ctx context.Context, table string) (int64, error)
	// Import fills tables in order from read in one transaction. Each must be empty, or with
	// truncate is emptied first in the same transaction.
	Import(ctx context.Context, tables []string, truncate bool, read ReadFunc) (map[string]int64, error)
}

// Options adjust Copy.
type Options struct {
	// Force empties a target that holds data before copying into it. Without it, Copy refuses
	// such a target with a *NotEmptyError.
	Force bool
	// BeforeEmpty, when set, is told which of the target's tables hold rows before Force deletes
	// them (to warn about it). It is not called for an empty target.
	BeforeEmpty func(held []TableCount)
}

// TableCount is a table's number of rows.
type TableCount struct {
	Table string
	Rows  int64
}

// NotEmptyError refuses to copy into a target that holds data.
type NotEmptyError struct {
	Held []TableCount // the target's tables that hold rows
}

func (e *NotEmptyError) Error() string {
	return "the target database is not empty (" + formatCounts(e.Held) + ")"
}

func formatCounts(cs []TableCount) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s: %d", c.Table, c.Rows)
	}
	return strings.Join(parts, ", ")
}

// Report is the outcome of a copy, per table in copy order.
type Report struct {
	Tables []TableReport
	// Emptied lists the rows the target held before Force deleted them.
	Emptied []TableCount
}

// TableReport counts one table's rows: in the source's snapshot, copied, and in the target
// after the copy committed.
type TableReport struct {
	Table                  string
	Source, Copied, Target int64
}

// Rows returns the number of rows copied.
func (r *Report) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Copied
	}
	return n
}

// ErrMismatch says that the target's row counts differ from the source's after the copy.
var ErrMismatch = errors.New("dbcopy: the target's row counts differ from the source's")

// Copy copies every table of src into dst in one transaction of dst and verifies that the
// row counts match. It refuses a source with a table it does not know (its rows would be left
// behind) and, unless opts.Force, a target that holds any row. The report is returned with
// ErrMismatch when the counts differ afterwards.
func Copy(ctx context.Context, src Source, dst Target, opts Options) (*Report, error) {
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range srcTables {
		if !slices.Contains(Tables, t) && !slices.Contains(runtimeTables, t) && !slices.Contains(derivedTables, t) {
			return nil, fmt.Errorf("dbcopy: the source has a table %q that this version of switchboard does not know; copying would leave its rows behind", t)
		}
	}
	dstTables, err := dst.Tables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range Tables {
		if !slices.Contains(srcTables, t) {
			return nil, fmt.Errorf("dbcopy: the source has no table %q: is it a Switchboard database?", t)
		}
		if !slices.Contains(dstTables, t) {
			return nil, fmt.Errorf("dbcopy: the target has no table %q: is its schema migrated?", t)
		}
	}
	fill := slices.Clone(Tables)
	for _, t := range runtimeTables {
		if slices.Contains(dstTables, t) {
			fill = append(fill, t)
		}
	}

	// The source is counted first: on PostgreSQL this also locks its tables against TRUNCATE
	// until the copy ends, so that a target that turns out to be the source itself cannot be
	// emptied under the snapshot (the import then times out waiting for its locks).
	rep := &Report{}
	for _, t := range Tables {
		n, err := src.Count(ctx, t)
		if err != nil {
			return nil, err
		}
		rep.Tables = append(rep.Tables, TableReport{Table: t, Source: n})
	}
	seeded := false
	for _, t := range fill {
		n, err := dst.Count(ctx, t)
		if err != nil {
			return nil, err
		}
		if s := seededTables[t]; n > 0 && n <= s {
			seeded = true
		} else if n > 0 {
			rep.Emptied = append(rep.Emptied, TableCount{Table: t, Rows: n})
		}
	}
	if len(rep.Emptied) > 0 {
		if !opts.Force {
			return nil, &NotEmptyError{Held: rep.Emptied}
		}
		if opts.BeforeEmpty != nil {
			opts.BeforeEmpty(rep.Emptied)
		}
	}

	read := func(ctx context.Context, table string) ([]string, iter.Seq2[[]any, error], error) {
		if !slices.Contains(Tables, table) {
			return nil, nil, nil // a runtime table: left empty
		}
		return src.Export(ctx, table)
	}
	// A target holding only seeded rows is emptied like a forced one: every other table was
	// found empty above.
	copied, err := dst.Import(ctx, fill, opts.Force || seeded, read)
	if err != nil {
		return nil, err
	}

	var bad []string
	for i := range rep.Tables {
		tr := &rep.Tables[i]
		tr.Copied = copied[tr.Table]
		if tr.Target, err = dst.Count(ctx, tr.Table); err != nil {
			return rep, err
		}
		if tr.Copied != tr.Source || tr.Target != tr.Source {
			bad = append(bad, fmt.Sprintf("%s: source %d, copied %d, target %d", tr.Table, tr.Source, tr.Copied, tr.Target))
		}
	}
	if len(bad) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(bad, "; "))
	}
	return rep, nil
}
