package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Names of the call queue metrics.
const (
	callQueueName       = "switchboard_call_queue_depth"
	callQueueOldestName = "switchboard_call_queue_oldest_due_age_seconds"
)

// CallQueueFunc returns the calls waiting to be placed at now.
type CallQueueFunc func(ctx context.Context, now time.Time) (switchboard.CallQueueStats, error)

// callQueueCollector exports the calls waiting to be placed, read from the store on a scrape and
// cached for maxAge like the message queue: a queue that does not drain (calls stuck behind a
// sender's call slot, held by quiet hours) shows as a growing oldest age.
type callQueueCollector struct {
	stats          CallQueueFunc
	clock          switchboard.Clock
	maxAge         time.Duration
	depth, oldest  *prometheus.Desc
	errors         prometheus.Counter
	mu             sync.Mutex
	at             time.Time
	cached         switchboard.CallQueueStats
	haveCachedStat bool
}

// SetCallQueue makes /metrics export the calls waiting to be placed, ready and deferred, and the
// age of the oldest ready one, from stats, recomputed on a scrape when the last answer is older
// than maxAge. A failed query counts in switchboard_queue_stats_errors_total. Call it once.
func (m *Metrics) SetCallQueue(stats CallQueueFunc, clock switchboard.Clock, maxAge time.Duration) {
	m.reg.MustRegister(&callQueueCollector{
		stats: stats, clock: clock, maxAge: maxAge, errors: m.queueErrors,
		depth: prometheus.NewDesc(callQueueName,
			"Calls waiting to be placed: state ready (due now, waiting for the sender's call slot or the placer) or deferred (send_at, quiet hours, a retry's delay).",
			[]string{"state"}, nil),
		oldest: prometheus.NewDesc(callQueueOldestName,
			"Seconds since the oldest ready call became due (0 when none is ready): it grows while calls are not placed.", nil, nil),
	})
}

func (c *callQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
}

func (c *callQueueCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clock()
	q, ok := c.load(now)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Ready), "ready")
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Deferred), "deferred")
	age := 0.0
	if q.OldestDueAt != nil {
		age = max(now.Sub(*q.OldestDueAt).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

func (c *callQueueCollector) load(now time.Time) (switchboard.CallQueueStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveCachedStat && now.Sub(c.at) < c.maxAge && !now.Before(c.at) {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := c.stats(ctx, now)
	if err != nil {
		c.errors.Inc()
		return q, false
	}
	c.cached, c.at, c.haveCachedStat = q, now, true
	return q, true
}
