package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// CommitObserver is told how long each COMMIT of a store transaction took (the server's WAL
// flush and the round trip), on the goroutine that committed.
type CommitObserver func(took time.Duration)

// WithCommitObserver reports every transaction commit to fn (nil: none), for the store's
// commit latency metric. Statements outside a transaction commit by themselves and are not
// reported.
func WithCommitObserver(fn CommitObserver) Option {
	return func(o *options) { o.commitObserver = fn }
}

// traceCommits makes the pool's connections time their COMMITs: pgx sends a transaction's
// COMMIT (Tx.Commit, and so pgx.BeginFunc and the store's commit) as the statement "commit",
// through the connection's query tracer.
func (o *options) traceCommits(cfg *pgx.ConnConfig) {
	if o.commitObserver != nil {
		cfg.Tracer = commitTracer{o.commitObserver}
	}
}

// commitTracer is a pgx.QueryTracer that times the statement "commit".
type commitTracer struct{ observe CommitObserver }

type commitStartKey struct{}

// TraceQueryStart notes when a COMMIT starts.
func (c commitTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if data.SQL != "commit" {
		return ctx
	}
	return context.WithValue(ctx, commitStartKey{}, time.Now())
}

// TraceQueryEnd reports a COMMIT's time, failed ones included: it is what their callers waited.
func (c commitTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if t0, ok := ctx.Value(commitStartKey{}).(time.Time); ok {
		c.observe(time.Since(t0))
	}
}

var _ pgx.QueryTracer = commitTracer{}
