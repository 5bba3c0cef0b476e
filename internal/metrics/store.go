package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics time the store's commits (issue 21): SQLite's group commits of its one writer,
// PostgreSQL's transaction COMMITs.
type storeMetrics struct {
	commitSeconds *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
}

// storeNames are the store metrics' names.
var storeNames = []string{"switchboard_store_commit_duration_seconds", "switchboard_store_commit_batch_size"}

func newStoreMetrics(f func(prometheus.Collector)) storeMetrics {
	s := storeMetrics{
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: storeNames[0],
			Help:    "Time the store's commits took, by engine (sqlite: one group commit of the writer, its WAL fsync; postgres: one transaction's COMMIT). Every write waits for one.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"engine"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: storeNames[1],
			Help:    "Write requests that shared one commit (SQLite's group commit), by engine.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9)}, []string{"engine"}),
	}
	f(s.commitSeconds)
	f(s.batchSize)
	return s
}

// StoreCommit records one commit of the store: engine is "sqlite" or "postgres" (the label's
// only values), requests the write requests it carried, 0 when the engine does not batch them.
func (m *Metrics) StoreCommit(engine string, took time.Duration, requests int) {
	m.store.commitSeconds.WithLabelValues(engine).Observe(took.Seconds())
	if requests > 0 {
		m.store.batchSize.WithLabelValues(engine).Observe(float64(requests))
	}
}
