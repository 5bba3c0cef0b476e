package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// healthMetrics are the node's clock and infrastructure signals (issue 22): the offsets of its
// clock to the database's and the provider's, messages parked for review, and the free space
// of the data directory.
type healthMetrics struct {
	clockOffset *prometheus.GaugeVec
	needsReview prometheus.Counter
	diskFree    prometheus.Gauge
	diskSize    prometheus.Gauge
}

// healthNames are the health metrics' names.
var healthNames = []string{"switchboard_clock_offset_seconds", "switchboard_messages_needs_review_total", "switchboard_data_dir_free_bytes",
	"switchboard_data_dir_size_bytes"}

func newHealthMetrics(f func(prometheus.Collector)) healthMetrics {
	h := healthMetrics{
		clockOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_clock_offset_seconds",
			Help: "The reference's clock minus this node's clock, as last measured, by reference (database, provider)."}, []string{"reference"}),
		needsReview: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_messages_needs_review_total",
			Help: "Messages parked, not sent again, because reconciliation could not tell whether an attempt reached the provider."}),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_data_dir_free_bytes",
			Help: "Free bytes (for unprivileged users) of the file system holding the data directory, as last measured."}),
	}
	f(h.clockOffset)
	f(h.needsReview)
	h.diskSize = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_data_dir_size_bytes",
		Help: "Size in bytes of the file system holding the data directory, as last measured."})
	f(h.diskFree)
	f(h.diskSize)
	return h
}

// ClockOffset records the offset of a reference clock (database, provider) to this node's.
func (m *Metrics) ClockOffset(reference string, d time.Duration) {
	m.health.clockOffset.WithLabelValues(reference).Set(d.Seconds())
}

// NeedsReview counts a message parked for review.
func (m *Metrics) NeedsReview() { m.health.needsReview.Inc() }

// DiskFree records the free and total bytes of the data directory's file system.
func (m *Metrics) DiskFree(free, size uint64) {
	m.health.diskFree.Set(float64(free))
	m.health.diskSize.Set(float64(size))
}
