// Package sqlite is Switchboard's embedded store: switchboard.Store on one SQLite file, through
// the pure-Go driver modernc.org/sqlite (so CGO_ENABLED=0 builds work).
//
// # How the file is opened
//
// The database runs in WAL mode with foreign keys on and a busy timeout (other processes, such as
// the CLI, may open the same file). Writes go through one connection, reads through a pool of
// read-only connections that WAL lets run beside the writer.
//
// synchronous=FULL is the default because "accepted means durable" must survive a power loss:
// in WAL mode synchronous=NORMAL keeps the database consistent but may lose the last commits.
// FULL costs an fsync per commit; measured on the 2-core development machine, single-row commits
// run at about 3,100/s with FULL against 40,000/s with NORMAL.
//
// # Group commit
//
// To accept far more than one fsync's worth of writes per second without giving up durability,
// every write method runs as a request to a single writer goroutine. The writer takes the requests
// that are waiting, runs each inside its own SAVEPOINT of one IMMEDIATE transaction, and commits
// them together: one fsync for the batch. A request that fails is rolled back to its savepoint
// and fails alone; no caller hears of success before the commit that contains its write. Nothing
// waits to fill a batch: a lone request is committed at once, and batches form only while the
// previous commit is in progress. On the same machine BenchmarkCreateMessage accepts about
// 17,000 messages/s durably from 32 goroutines, and BenchmarkIngestCallback applies about 19,000
// callbacks/s.
//
// # Time
//
// Times are stored as INTEGER microseconds since the Unix epoch and read back in UTC. All of them
// come from the caller; the store has no clock, so an update or a callback without its time is
// refused (EINVALID) rather than stamped with a clock the tests do not control.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the SQLite store, in order.
func Migrations() ([]migrate.Migration, error) {
	return migrate.Load(migrationFS, "migrations")
}

// DB is the SQLite store. It is safe for concurrent use.
type DB struct {
	path string
	w    *sql.DB // one connection, owned by the writer goroutine once Open returns
	r    *sql.DB // read-only pool

	wstmts map[string]*sql.Stmt // prepared on w at Open
	rstmts map[string]*sql.Stmt // prepared on r at Open

	reqs      chan *writeReq
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	maxBatch  int
	// lowSpace: a write found the disk full; the WAL is checkpointed often (the writer's).
	lowSpace bool

	commitObserver CommitObserver // see WithCommitObserver (commitmetric.go)
}

var _ switchboard.Store = (*DB)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	synchronous string
	readConns   int
	busyTimeout time.Duration
	maxBatch    int

	commitObserver CommitObserver // commitmetric.go
}

// WithSynchronous sets SQLite's synchronous pragma: "FULL" (the default) or "NORMAL". NORMAL is
// several times faster per commit but may lose the most recent commits on power loss (never on a
// process crash), which breaks "accepted means durable"; use it only where that is acceptable.
func WithSynchronous(mode string) Option {
	return func(o *options) { o.synchronous = strings.ToUpper(mode) }
}

// WithReadConns sets the size of the read pool (default: max(4, GOMAXPROCS)).
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = n }
}

// WithBusyTimeout sets how long a connection waits for a lock another process holds (default 5 s).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithMaxBatch caps how many write requests share one commit (default 256; 1 disables group
// commit).
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// Open opens (creating if needed, with its parent directory) the database file at path, applies
// pending migrations and starts the writer.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{synchronous: "FULL", readConns: max(4, runtime.GOMAXPROCS(0)), busyTimeout: 5 * time.Second, maxBatch: 256}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case path == "" || path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite: open %q: need a file path (the store uses separate read and write connections)", path)
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("sqlite: open %q: path may not contain '?' or '#'", path)
	case o.synchronous != "FULL" && o.synchronous != "NORMAL" && o.synchronous != "EXTRA":
		return nil, fmt.Errorf("sqlite: synchronous must be FULL, EXTRA or NORMAL, not %q", o.synchronous)
	}
	o.readConns = max(o.readConns, 1)
	o.maxBatch = max(o.maxBatch, 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory: %w", err)
	}
	// The file holds message bodies and phone numbers: create it readable by its owner only.
	// SQLite gives the -wal and -shm files the same permissions. An empty file is an empty
	// database to SQLite.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	common := "?_pragma=busy_timeout(" + strconv.FormatInt(o.busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)"
	// journal_size_limit truncates the WAL back to 64 MiB after a burst has grown it.
	// temp_store=MEMORY keeps the statement journal of the group commit's savepoints in memory:
	// by default it spills to a temporary file past 64 KiB, which cost an open and a write
	// system call per page of a batch (about 12% of the accept path's CPU in a profile). It holds
	// only the current transaction's undo data, never anything a commit depends on.
	// wal_autocheckpoint(8192) lets the WAL grow to 32 MiB (SQLite's default: 4 MiB) before the
	// writer copies it back into the database: a page that many commits change (the tail of the
	// event log, the upper levels of each index) is copied once per checkpoint, so fewer
	// checkpoints write fewer pages. It raised BenchmarkCreateMessage by 10-80% and
	// BenchmarkIngestCallback by 7-30% in interleaved runs (docs/performance.md).
	w, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous("+o.synchronous+")"+
		"&_pragma=journal_size_limit(67108864)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(8192)"+
		"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: path, w: w, reqs: make(chan *writeReq), quit: make(chan struct{}), done: make(chan struct{}), maxBatch: o.maxBatch}
	db.commitObserver = o.commitObserver
	fail := func(err error) (*DB, error) {
		if db.r != nil {
			db.r.Close()
		}
		w.Close()
		return nil, err
	}
	// The writer connection is opened first: it switches the file to WAL before any reader looks.
	// Two processes switching a new file at the same instant (serve and `keys create` on a fresh
	// install) can get SQLITE_BUSY without the busy handler being asked, since waiting could
	// deadlock; the loser retries briefly and finds the file in WAL already.
	if err := pingRetryBusy(ctx, w, o.busyTimeout); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	ms, err := Migrations()
	if err != nil {
		return fail(err)
	}
	if _, err := migrate.Up(ctx, w, migrate.SQLite, ms); err != nil {
		return fail(fmt.Errorf("sqlite: %w", err))
	}
	db.r, err = sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		return fail(fmt.Errorf("sqlite: open: %w", err))
	}
	db.r.SetMaxOpenConns(o.readConns)
	db.r.SetMaxIdleConns(o.readConns)
	if db.wstmts, err = prepare(ctx, w, writeQueries); err != nil {
		return fail(err)
	}
	if db.rstmts, err = prepare(ctx, db.r, readQueries); err != nil {
		return fail(err)
	}
	go db.writer()
	return db, nil
}

func prepare(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		m[q] = s
	}
	return m, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Ping checks that the store answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	// A real write: a transaction that writes nothing commits even on a full disk.
	err := db.write(ctx, func(t *wtx) error {
		_, err := t.exec(qReadiness, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		if u := unavailable(err); u != nil {
			return u
		}
		var app *switchboard.Error
		if errors.As(err, &app) {
			return err
		}
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// qReadiness is Ping's write (migration 0020).
const qReadiness = `INSERT INTO readiness (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`

// Close stops the writer (requests not started fail) and closes the database.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		close(db.quit)
		<-db.done
		err = errors.Join(db.r.Close(), db.w.Close())
	})
	return err
}

// The group commit's savepoint statements, prepared at Open like the others: parsing them anew
// for every request was a visible share of the writer's time.
const (
	qSavepoint  = `SAVEPOINT req`
	qRollbackTo = `ROLLBACK TO req`
	qRelease    = `RELEASE req`
)

// errClosed answers writes after Close.
var errClosed = errors.New("sqlite: store is closed")

// writeReq is one write method's work, run by the writer inside a savepoint.
type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	done chan error
}

// wtx is the transaction a write request runs in; its helpers use the writer's prepared
// statements.
type wtx struct {
	db  *DB
	tx  *sql.Tx
	ctx context.Context // the request's context, without cancellation (see run)
}

func (t *wtx) stmt(q string) *sql.Stmt {
	if s, ok := t.db.wstmts[q]; ok {
		return t.tx.StmtContext(t.ctx, s)
	}
	return nil
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	if s := t.stmt(q); s != nil {
		return s.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

func (t *wtx) query(q string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(q); s != nil {
		return s.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *wtx) queryRow(q string, args ...any) *sql.Row {
	if s := t.stmt(q); s != nil {
		return s.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// write runs fn in the writer's transaction and returns once the transaction that holds its
// changes has committed (or fn failed and its changes were rolled back).
func (db *DB) write(ctx context.Context, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.reqs <- r:
	case <-db.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over the request is waited for: it may already be committed, and a caller told
	// "canceled" about a durable write would be misled.
	return <-r.done
}

// writer owns the write connection: it batches waiting requests into one transaction.
func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*writeReq, 0, db.maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-db.reqs:
			batch = append(batch, r)
		case <-db.quit:
			return
		}
	gather:
		for len(batch) < db.maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		db.commit(batch)
	}
}

// commit runs a batch of requests in one transaction, each in its own savepoint when there are
// several, and answers each request once the outcome of the transaction is known.
func (db *DB) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	// finish answers every request: with its own error, or else with err (nil on success).
	finish := func(err error) {
		full := false
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = err
			}
			if u := unavailable(errs[i]); u != nil {
				full = full || u.Code == switchboard.CodeDiskFull
				errs[i] = u
			}
			r.done <- errs[i]
		}
		if full {
			db.afterDiskFull()
		}
	}
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		finish(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	savepoints := len(batch) > 1
	ok := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		// Statements run without the request's cancellation: an interrupted write statement makes
		// SQLite roll back the whole transaction, which would take the other requests with it.
		t := &wtx{db: db, tx: tx, ctx: context.WithoutCancel(r.ctx)}
		if savepoints {
			if _, err := t.exec(qSavepoint); err != nil {
				tx.Rollback() //nolint:errcheck // the transaction is already broken
				finish(fmt.Errorf("sqlite: savepoint: %w", err))
				return
			}
		}
		errs[i] = run(t, r.fn)
		if !savepoints {
			if errs[i] == nil {
				ok++
			}
			break
		}
		var spErr error
		if errs[i] != nil {
			_, spErr = t.exec(qRollbackTo)
		} else {
			ok++
		}
		if spErr == nil {
			_, spErr = t.exec(qRelease)
		}
		if spErr != nil {
			// SQLite rolled the whole transaction back (an I/O error, say): every request in it
			// failed, including those that had succeeded so far.
			tx.Rollback() //nolint:errcheck // the transaction is already broken
			spErr = fmt.Errorf("sqlite: savepoint: %w", spErr)
			for j := 0; j <= i; j++ {
				if errs[j] == nil {
					errs[j] = spErr
				}
			}
			finish(spErr)
			return
		}
	}
	if ok == 0 {
		tx.Rollback() //nolint:errcheck // nothing to keep
		finish(nil)
		return
	}
	if err := db.commitTx(tx, ok); err != nil {
		finish(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	finish(nil)
}

// run calls fn, turning a panic into an error so that one bad request cannot stop the writer.
func run(t *wtx, fn func(*wtx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: panic in write: %v", p)
		}
	}()
	return fn(t)
}

// unavailable turns a failure of the database file itself — the disk is full, an I/O error, the
// file is read-only or locked by another process — into an EUNAVAILABLE application error
// (disk_full or store_unavailable), answered 503 with Retry-After; nil for any other error
// (application errors pass through unchanged).
func unavailable(err error) *switchboard.Error {
	var e *sqlitedrv.Error
	if err == nil || !errors.As(err, &e) {
		return nil
	}
	var app *switchboard.Error
	if errors.As(err, &app) {
		return nil
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL:
		return switchboard.Unavailable(switchboard.CodeDiskFull, err)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		return switchboard.Unavailable(switchboard.CodeStoreUnavailable, err)
	}
	return nil
}

// afterDiskFull runs on the writer after a write failed because the disk is full. The WAL
// would otherwise keep its size (up to journal_size_limit) and, folded back only every
// wal_autocheckpoint pages, grow again into any space an operator frees: from now on it is
// checkpointed every lowSpaceAutocheckpoint pages and cut back to that size when it restarts
// (journal_size_limit), and right now it is copied back and truncated to nothing
// (wal_checkpoint(TRUNCATE); on a disk still full this fails and the next checkpoint does it), so
// that freed space goes to new writes, not to the WAL.
func (db *DB) afterDiskFull() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !db.lowSpace {
		_, err1 := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", lowSpaceAutocheckpoint))
		_, err2 := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA journal_size_limit=%d", lowSpaceAutocheckpoint*4096))
		db.lowSpace = err1 == nil && err2 == nil
	}
	_, _ = db.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)") // best effort: the disk is full
}

// lowSpaceAutocheckpoint is the WAL's checkpoint interval, in pages (1 MiB), once a write has
// found the disk full.
const lowSpaceAutocheckpoint = 256

// isUnique reports whether err is a violated UNIQUE or PRIMARY KEY constraint.
func isUnique(err error) bool {
	var e *sqlitedrv.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Time conversions: INTEGER microseconds since the epoch, UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func microsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pingRetryBusy pings db, retrying SQLITE_BUSY for up to wait.
func pingRetryBusy(ctx context.Context, db *sql.DB, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// collect reads every row of a query with scan and closes the rows.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.Collect(rows, scan)
}
