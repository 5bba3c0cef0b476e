package sqlite

import (
	"database/sql"
	"time"
)

// CommitObserver is told, after each commit of the writer, how long the COMMIT took (SQLite's
// fsyncs of the WAL) and how many write requests the group commit carried. It runs on the
// writer's goroutine, between batches: it must be quick and must not write to the store.
type CommitObserver func(took time.Duration, requests int)

// WithCommitObserver reports every commit of the writer to fn (nil: none), for the store's commit
// latency metric.
func WithCommitObserver(fn CommitObserver) Option {
	return func(o *options) { o.commitObserver = fn }
}

// commitTx commits the writer's transaction of a batch of requests, timing it for the observer.
// A failed commit is reported too: its time is what the batch's callers waited.
func (db *DB) commitTx(tx *sql.Tx, requests int) error {
	if db.commitObserver == nil {
		return tx.Commit()
	}
	t0 := time.Now()
	err := tx.Commit()
	db.commitObserver(time.Since(t0), requests)
	return err
}
