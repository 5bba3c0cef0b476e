package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Names of the queue and alert metrics.
const (
	queueDepthName    = "switchboard_queue_depth"
	queueOldestName   = "switchboard_queue_oldest_due_age_seconds"
	queueErrorsName   = "switchboard_queue_stats_errors_total"
	alertFiringName   = "switchboard_alert_firing"
	alertTransName    = "switchboard_alert_transitions_total"
	deliveryRateName  = "switchboard_sender_delivery_ratio"
	deliverySampleNam = "switchboard_sender_delivery_outcomes"
)

// QueueStatsFunc returns the outbox's waiting messages per sender at now.
type QueueStatsFunc func(ctx context.Context, now time.Time) ([]switchboard.SenderQueue, error)

// queueCollector exports the outbox's depth per sender, computed from the store on a scrape and
// cached for maxAge, so that several scrapers (or a scrape storm) cost one query per maxAge.
type queueCollector struct {
	stats   QueueStatsFunc
	clock   switchboard.Clock
	maxAge  time.Duration
	timeout time.Duration

	depth, oldest *prometheus.Desc
	errors        prometheus.Counter

	mu      sync.Mutex
	at      time.Time
	cached  []switchboard.SenderQueue
	senders []string
}

// SetQueueStats makes /metrics export the depth of each sender's queue (ready and deferred
// messages) and the age of its oldest ready message, from stats, recomputed on a scrape when the
// last answer is older than maxAge. Senders listed in senders are exported with zeros when they
// have nothing waiting, so that a drained queue reads 0 rather than vanishing. Call it once.
func (m *Metrics) SetQueueStats(stats QueueStatsFunc, clock switchboard.Clock, maxAge time.Duration, senders []string) {
	c := &queueCollector{
		stats: stats, clock: clock, maxAge: maxAge, timeout: 10 * time.Second, senders: senders,
		depth: prometheus.NewDesc(queueDepthName,
			"Messages waiting in the outbox per sender: state ready (due now, waiting for the sender's rate limit or a worker) or deferred (send_at, quiet hours, retry backoff).",
			[]string{"sender", "state"}, nil),
		oldest: prometheus.NewDesc(queueOldestName,
			"Seconds since the oldest ready message of a sender became due (0 when none is ready).", []string{"sender"}, nil),
		errors: m.queueErrors,
	}
	m.reg.MustRegister(c)
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clock()
	stats, ok := c.load(now)
	if !ok {
		return // the error is counted; a gauge that cannot be read is absent, not zero
	}
	seen := map[string]bool{}
	for _, q := range stats {
		seen[q.Sender] = true
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Ready), q.Sender, "ready")
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Deferred), q.Sender, "deferred")
		age := 0.0
		if q.OldestDueAt != nil {
			age = max(now.Sub(*q.OldestDueAt).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, q.Sender)
	}
	for _, s := range c.senders {
		if !seen[s] {
			seen[s] = true
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, 0, s, "ready")
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, 0, s, "deferred")
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, 0, s)
		}
	}
}

// load returns the cached stats, refreshed when older than maxAge. The lock makes concurrent
// scrapes share one query.
func (c *queueCollector) load(now time.Time) ([]switchboard.SenderQueue, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached != nil && now.Sub(c.at) < c.maxAge && !now.Before(c.at) {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	stats, err := c.stats(ctx, now)
	if err != nil {
		c.errors.Inc()
		return nil, false
	}
	if stats == nil {
		stats = []switchboard.SenderQueue{}
	}
	c.cached, c.at = stats, now
	return stats, true
}

// AlertState records the state of a built-in alert for a sender as last evaluated: its delivery
// rate and number of outcomes in the window, and whether the alert is firing.
func (m *Metrics) AlertState(alert, sender string, firing bool, rate float64, outcomes int64) {
	v := 0.0
	if firing {
		v = 1
	}
	m.alertFiring.WithLabelValues(alert, sender).Set(v)
	m.deliveryRate.WithLabelValues(sender).Set(rate)
	m.deliveryOutcomes.WithLabelValues(sender).Set(float64(outcomes))
}

// AlertTransition counts a transition of a built-in alert that this node wrote (to "firing" or
// "ok"); with several nodes, each transition is counted by the node that won it.
func (m *Metrics) AlertTransition(alert, to string) {
	m.alertTransitions.WithLabelValues(alert, to).Inc()
}
