package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	switchboard "github.com/switchboard-gw/switchboard"
)

// opsNames are the names of the metrics of this file.
var opsNames = []string{
	"switchboard_messages_final_total", "switchboard_message_delivery_latency_seconds", "switchboard_segments_sent_total",
	"switchboard_http_requests_total", "switchboard_http_request_duration_seconds",
	"switchboard_calls_finished_total", "switchboard_call_step_duration_seconds",
	"switchboard_event_deliveries_total", "switchboard_event_delivery_duration_seconds",
}

// opsMetrics are the end-to-end metrics: final statuses, delivery latency, segments, the HTTP
// API, calls and deliveries of events to endpoints.
type opsMetrics struct {
	final           *prometheus.CounterVec
	deliveryLatency prometheus.Histogram
	segments        *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	httpSeconds     *prometheus.HistogramVec
	calls           *prometheus.CounterVec
	callStep        prometheus.Histogram
	deliveries      *prometheus.CounterVec
	deliverySeconds prometheus.Histogram
	// classify names the class of a provider error code (set by the node from the provider).
	classify func(code int) string
}

func (m *Metrics) registerOps(f func(prometheus.Collector)) {
	o := &m.ops
	o.classify = func(code int) string {
		if code == 0 {
			return "none"
		}
		return "other"
	}
	o.final = prometheus.NewCounterVec(prometheus.CounterOpts{Name: opsNames[0],
		Help: "Messages that reached a final status (delivered, read, undelivered, failed, blocked, expired, canceled), by status and error class."},
		[]string{"status", "error_class"})
	o.deliveryLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: opsNames[1],
		Help:    "Time from a message's acceptance to its delivery receipt.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600}})
	o.segments = prometheus.NewCounterVec(prometheus.CounterOpts{Name: opsNames[2],
		Help: "Segments handed to the provider (the unit carriers bill and rate-limit), by sender."}, []string{"sender"})
	o.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: opsNames[3],
		Help: "HTTP API requests by route pattern and status code."}, []string{"route", "code"})
	o.httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: opsNames[4],
		Help: "Time to answer an HTTP API request, by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	o.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: opsNames[5],
		Help: "Calls that ended, by final status and outcome (the flow state it ended in, or machine, flow_not_run, interrupted)."}, []string{"status", "outcome"})
	o.callStep = prometheus.NewHistogram(prometheus.HistogramOpts{Name: opsNames[6],
		Help: "Server time of one voice webhook (a flow step's TwiML or a call status callback).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)})
	o.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: opsNames[7],
		Help: "Attempts to deliver events to endpoints, by result (delivered, retry, dead)."}, []string{"result"})
	o.deliverySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: opsNames[8],
		Help: "Time an endpoint took to answer a delivery (or to fail).", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)})
	for _, c := range []prometheus.Collector{o.final, o.deliveryLatency, o.segments, o.httpRequests, o.httpSeconds, o.calls, o.callStep, o.deliveries, o.deliverySeconds} {
		f(c)
	}
}

// SetErrorClasses sets how provider error codes are named in the error_class label; the classes
// must be few (the provider's families of codes), since each is a series.
func (m *Metrics) SetErrorClasses(classify func(code int) string) { m.ops.classify = classify }

// MessageFinal counts a message that reached a final status, with its error code's class; a
// delivery also observes the time since the message was accepted.
func (m *Metrics) MessageFinal(id string, status switchboard.Status, code int, now time.Time) {
	m.ops.final.WithLabelValues(string(status), m.ops.classify(code)).Inc()
	if status == switchboard.StatusDelivered {
		if at, ok := switchboard.IDTime(id); ok && now.After(at) {
			m.ops.deliveryLatency.Observe(now.Sub(at).Seconds())
		}
	}
}

// SegmentsSent counts the segments of a message the provider accepted.
func (m *Metrics) SegmentsSent(sender string, segments int) {
	m.ops.segments.WithLabelValues(sender).Add(float64(segments))
}

// HTTPRequest counts an API request answered with status after d; route is the registered
// pattern ("GET /v1/messages/{id}"), so the label stays bounded.
func (m *Metrics) HTTPRequest(route string, status int, d time.Duration) {
	m.ops.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.ops.httpSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// CallFinished counts a call that ended.
func (m *Metrics) CallFinished(c *switchboard.Call) {
	m.ops.calls.WithLabelValues(string(c.Status), c.Outcome).Inc()
}

// CallStep observes the server time of one voice webhook.
func (m *Metrics) CallStep(d time.Duration) { m.ops.callStep.Observe(d.Seconds()) }

// EventDelivery counts one attempt to deliver an event to an endpoint and its duration.
func (m *Metrics) EventDelivery(result string, d time.Duration) {
	m.ops.deliveries.WithLabelValues(result).Inc()
	m.ops.deliverySeconds.Observe(d.Seconds())
}
