// Package postgres is Switchboard's multi-node store: switchboard.Store on PostgreSQL through
// pgx, for several identical nodes sharing one database. It passes the same conformance suite as
// the embedded SQLite store (internal/storetest) and keeps its guarantees across nodes:
//
//   - Claims: due messages are claimed with UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
//     LOCKED) and a lease, so two nodes never hold the same message, and a dead node's leases
//     simply expire.
//   - Idempotency: the idempotency key row is inserted first with ON CONFLICT DO NOTHING, in the
//     same statement that inserts the message; of several concurrent requests with one key exactly
//     one inserts it, the others wait for its commit and replay (or are refused) from it.
//   - Callbacks: a callback is recorded under a unique dedupe key (ON CONFLICT DO NOTHING), its
//     message row is locked (FOR UPDATE) while it is applied, and every transaction that looks a
//     provider SID up or sets one first takes a transaction-scoped advisory lock on that SID. The
//     lock closes the one race row locks cannot: a callback that finds no message for its SID
//     (and is kept pending) while another node is writing that SID to a message.
//   - Rate limits: Reserve runs the dispatcher's GCRA in one UPSERT on a row per sender, so a
//     sender's limit holds for the cluster (see limiter.go).
//
// Every method runs in one transaction, usually one or two round trips: queries that do not
// depend on each other's results are pipelined with pgx.Batch, the BEGIN included.
//
// Transactions run at READ COMMITTED, which the reasoning above relies on; Open sets it as the
// connections' default whatever the server's default is.
//
// # Time
//
// Times are timestamptz (microseconds), read back in UTC. All of them come from the caller; the
// store has no clock, so an update or a callback without its time is refused (EINVALID).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the PostgreSQL store, in order.
func Migrations() ([]migrate.Migration, error) {
	return migrate.Load(migrationFS, "migrations")
}

// DB is the PostgreSQL store. It is safe for concurrent use, and any number of DBs, in any number
// of processes, may share one database.
type DB struct {
	pool *pgxpool.Pool
	// callerClock: Reserve compares the callers' times instead of the database's (tests).
	callerClock bool
}

var _ switchboard.Store = (*DB)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	migrate     bool
	maxConns    int32
	callerClock bool

	commitObserver CommitObserver // commitmetric.go
}

// WithCallerClock makes the shared rate bucket (Reserve) run on the times its callers pass
// whatever the database's clock says: for tests that drive it with a virtual clock. Production
// uses a caller's time only within a second of the database's clock and the database's beyond,
// so that a node whose clock is off can neither push the bucket into the future (stalling every
// node) nor draw on it early.
func WithCallerClock() Option {
	return func(o *options) { o.callerClock = true }
}

// WithoutMigrate opens the store without applying pending migrations, for deployments that run
// `switchboard migrate` (DB.Migrate) as a separate step.
func WithoutMigrate() Option {
	return func(o *options) { o.migrate = false }
}

// WithMaxConns sets the size of the connection pool. The default is pgxpool's (the larger of 4
// and the number of CPUs), or pool_max_conns from the URL.
func WithMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// Open connects to the database at url (a postgres:// URL or a key=value connection string, with
// pgx's and pgxpool's parameters such as pool_max_conns) and, unless WithoutMigrate is given,
// applies pending migrations.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, errors.New("postgres: invalid database URL")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	// The store's concurrency arguments (statement snapshots that see the rows another node just
	// committed, FOR UPDATE re-checks) are READ COMMITTED arguments.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	o.traceCommits(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: pool, callerClock: o.callerClock}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if o.migrate {
		if _, err := db.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return db, nil
}

// Advisory lock keys, in the two-int4 key space (which does not overlap migrate's bigint key):
// the namespace first, then a key within it.
const (
	lockNamespace = 0x53425047 // "SBPG"
	lockMigrate   = 1
	// lockNamespaceSchema keys the migration lock of one schema: (this, hashtext(schema name)).
	lockNamespaceSchema = 0x53425048 // "SBPH"
	// SID locks use a second namespace: the key is a hash of the SID.
	lockSIDNamespace = 0x53425349 // "SBSI"
)

// sidLockKey is the advisory lock key of a provider SID. Two SIDs that share a hash share a lock,
// which costs some waiting and nothing else.
func sidLockKey(sid string) int32 {
	h := fnv.New32a()
	h.Write([]byte(sid))
	return int32(h.Sum32())
}

// qLockSID takes the transaction-scoped lock of a provider SID (see the package comment); its
// arguments are lockSIDNamespace and sidLockKey(sid).
const qLockSID = `SELECT pg_advisory_xact_lock($1, $2)`

// Migrate applies the migrations the database has not recorded yet and returns how many it
// applied. Concurrent callers, on any node, serialize on an advisory lock, so a migration is
// applied once.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	// A schema that has every migration needs no lock. The lock's key is the server's, not the
	// schema's: without this, a node restarting on an up-to-date schema would queue behind the
	// migrations of every other schema of the server (other installations, parallel tests).
	if current, err := db.upToDate(ctx, ms); err != nil || current {
		return 0, err
	}
	// migrate.Up serializes the migrations themselves, but creates its schema_migrations table
	// before taking its lock, and concurrent CREATE TABLE IF NOT EXISTS of one table can fail in
	// PostgreSQL (a unique violation in pg_type). A session lock held around the whole run, on a
	// connection of its own, serializes the runners of this schema: its key is the schema's
	// (hashtext of its name), so that new schemas of one server (installations, parallel tests)
	// migrate side by side. Releases before this one took one server-wide key whatever the
	// schema; a schema that already has migrations may be migrated by such a node during a
	// rolling upgrade, so on those the server-wide key is taken too, after the schema's. A new,
	// empty schema is only ever migrated by nodes of one release.
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	locks := [][2]int64{}
	unlock := func() {
		for i := len(locks) - 1; i >= 0; i-- {
			if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1::int4, $2::int4)", locks[i][0], locks[i][1]); uerr != nil {
				// Never hand a connection that may still hold the lock back to the pool.
				conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a broken connection
				return
			}
		}
	}
	defer unlock()
	var schemaKey int64
	if err := conn.QueryRow(ctx, "SELECT hashtext(current_schema())::int8").Scan(&schemaKey); err != nil {
		return 0, fmt.Errorf("postgres: migrate: schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1::int4, $2::int4)", lockNamespaceSchema, schemaKey); err != nil {
		return 0, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	locks = append(locks, [2]int64{lockNamespaceSchema, schemaKey})
	var migrated bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&migrated); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	if migrated {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1::int4, $2::int4)", lockNamespace, lockMigrate); err != nil {
			return 0, fmt.Errorf("postgres: migrate: lock: %w", err)
		}
		locks = append(locks, [2]int64{lockNamespace, lockMigrate})
	}
	// migrate works on database/sql: one more connection, outside the pool, so that a pool of one
	// cannot deadlock against the connection holding the lock.
	sqldb := stdlib.OpenDB(*db.pool.Config().ConnConfig)
	defer sqldb.Close()
	sqldb.SetMaxOpenConns(1)
	versions, err := migrate.Up(ctx, sqldb, migrate.Postgres, ms)
	if err != nil {
		return len(versions), fmt.Errorf("postgres: %w", err)
	}
	return len(versions), nil
}

// upToDate reports whether schema_migrations records every migration of ms (false when the
// table does not exist yet). Nothing un-records a migration, so the answer cannot go stale.
func (db *DB) upToDate(ctx context.Context, ms []migrate.Migration) (bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	versions, err := collect(rows, err, func(s sqlstore.Scanner) (int, error) {
		var v int
		return v, s.Scan(&v)
	})
	if e := pgError(err); e != nil && e.Code == "42P01" { // undefined_table: a new schema
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[v] = true
	}
	for _, m := range ms {
		if !done[m.Version] {
			return false, nil
		}
	}
	return true, nil
}

// Pool returns the connection pool, for tools (such as `switchboard db copy`) that need SQL of
// their own. The store's invariants are theirs to keep.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers and a write commits (migration 0020's readiness row):
// a database whose disk is full still answers a plain ping.
func (db *DB) Ping(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, qReadiness)
	if e := pgError(err); e != nil && e.Code == "42P01" { // undefined_table: not migrated yet
		err = db.pool.Ping(ctx)
	}
	if err != nil {
		if u := unavailable(err); u != nil {
			return u
		}
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

const qReadiness = `INSERT INTO readiness (id, checked_at) VALUES (1, now())
	ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`

// Now reads the database's clock (clock_timestamp()): the reference every node of a cluster
// corrects its clock to (see internal/clocksync).
func (db *DB) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := db.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, wrap("clock", err)
	}
	return t.UTC(), nil
}

// Close closes the connection pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// txOptions are those of every write transaction.
var txOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// readOptions are those of reads that need one snapshot (a message and its timeline).
var readOptions = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// newBatch returns a batch that begins a transaction with opts: the BEGIN travels with the first
// queries, saving a round trip.
func newBatch(opts pgx.TxOptions) *pgx.Batch {
	b := &pgx.Batch{}
	b.BeginTx(opts)
	return b
}

// begin sends b (made by newBatch) and reads the result of its BEGIN. The caller reads the
// results of its queries, closes br, may go on with tx, and must end tx (rollback is deferred
// with the rollback function).
func (db *DB) begin(ctx context.Context, b *pgx.Batch) (tx pgx.Tx, br pgx.BatchResults, err error) {
	br = db.pool.SendBatch(ctx, b)
	tx = br.Tx()
	if _, err := br.Exec(); err != nil {
		br.Close()
		rollback(ctx, tx)
		if u := unavailable(err); u != nil {
			return nil, nil, u
		}
		return nil, nil, fmt.Errorf("postgres: begin: %w", err)
	}
	return tx, br, nil
}

// rollback ends tx unless it was committed; it is deferred by every transaction.
func rollback(ctx context.Context, tx pgx.Tx) {
	tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit; a broken connection is discarded by the pool
}

// commit commits tx. It does not give up when ctx is canceled meanwhile: a caller told
// "canceled" about a write that did commit would be misled ("accepted means durable").
func commit(ctx context.Context, tx pgx.Tx) error {
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		if u := unavailable(err); u != nil {
			return u
		}
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// pgError returns err's PostgreSQL error, if it has one.
func pgError(err error) *pgconn.PgError {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// uniqueViolation returns the name of the unique constraint or index err violated, or "".
func uniqueViolation(err error) (constraint string, ok bool) {
	if e := pgError(err); e != nil && e.Code == "23505" {
		return e.ConstraintName, true
	}
	return "", false
}

// invalidText turns PostgreSQL's refusal of a text value into an application error: text and
// jsonb cannot hold NUL characters (SQLite can), and a request carrying one is the caller's
// problem, not an internal error.
func invalidText(err error) error {
	if e := pgError(err); e != nil {
		switch e.Code {
		case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
			return switchboard.ErrInvalidText()
		}
	}
	return nil
}

// wrap wraps err as an internal error of op, unless it is an application error already or a
// refused text value.
func wrap(op string, err error) error {
	var appErr *switchboard.Error
	if errors.As(err, &appErr) {
		return err
	}
	if e := invalidText(err); e != nil {
		return e
	}
	if u := unavailable(err); u != nil {
		return u
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable turns a failure of the database itself — it cannot be reached, is shutting down
// or starting, has no connection slot, or its disk is full — into an EUNAVAILABLE application
// error (store_unavailable or disk_full), which the API answers 503 with Retry-After: the
// request is fine and may be retried. Nil for any other error.
func unavailable(err error) *switchboard.Error {
	if err == nil {
		return nil
	}
	if e := pgError(err); e != nil {
		switch {
		case e.Code == "53100": // disk_full
			return switchboard.Unavailable(switchboard.CodeDiskFull, err)
		case strings.HasPrefix(e.Code, "08"), // connection exception
			e.Code == "57P01", e.Code == "57P02", e.Code == "57P03", // admin/crash shutdown, cannot connect now
			e.Code == "53300", e.Code == "53200", // too many connections, out of memory
			e.Code == "58030", // io_error
			e.Code == "25006": // read-only transaction: a standby, e.g. during a failover
			return switchboard.Unavailable(switchboard.CodeStoreUnavailable, err)
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) && !errors.Is(err, context.Canceled) {
		return switchboard.Unavailable(switchboard.CodeStoreUnavailable, err)
	}
	return nil
}

// utc returns t in UTC; pgx reads timestamptz in the local zone.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// collect reads every row of a query with scan and closes the rows.
func collect[T any](rows pgx.Rows, err error, scan func(sqlstore.Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.Collect(rows, scan)
}
