// Package metrics exposes Switchboard's Prometheus metrics on its own registry. Labels carry
// senders, statuses, categories and error codes — never phone numbers of recipients or bodies.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Metrics holds every metric. Its methods satisfy the observer interfaces of the api, webhook
// and dispatch packages.
type Metrics struct {
	reg *prometheus.Registry

	accepted         *prometheus.CounterVec
	providerRequests *prometheus.CounterVec
	providerSeconds  *prometheus.HistogramVec
	finished         *prometheus.CounterVec
	retries          *prometheus.CounterVec
	rateWait         *prometheus.HistogramVec
	gateWait         *prometheus.HistogramVec
	webhooks         *prometheus.CounterVec
	webhookSeconds   *prometheus.HistogramVec
	callbacks        *prometheus.CounterVec
	optOuts          *prometheus.CounterVec

	// queue.go
	queueErrors      prometheus.Counter
	alertFiring      *prometheus.GaugeVec
	alertTransitions *prometheus.CounterVec
	deliveryRate     *prometheus.GaugeVec
	deliveryOutcomes *prometheus.GaugeVec
	circuit          circuitMetrics
	verify           verifyMetrics
	ops              opsMetrics
	health           healthMetrics
	store            storeMetrics
	usage            usageMetrics
}

// New returns Metrics registered on a fresh registry (with the Go and process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_messages_accepted_total",
		Help: "Messages accepted through the API."}, []string{"channel", "category", "sender"})
	m.providerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_provider_requests_total",
		Help: "Provider send requests by outcome (ok, retry, retry_slow, ambiguous, fail, opted_out) and provider error code."},
		[]string{"outcome", "code"})
	m.providerSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_provider_request_duration_seconds",
		Help: "Latency of provider send requests.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"outcome"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_messages_finished_total",
		Help: "Messages the dispatcher finished without a delivery receipt (failed, blocked, expired), by status, category and sender; switchboard_messages_final_total counts every final status."},
		[]string{"status", "category", "sender"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_retries_total",
		Help: "Attempts scheduled again, by reason (retry, retry_slow, ambiguous)."}, []string{"outcome"})
	m.rateWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_rate_limit_wait_seconds",
		Help: "Time a message waited for its sender's rate limit.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"sender"})
	m.gateWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_send_gate_wait_seconds",
		Help:    "Time a provider call waited at its sender's call-point gate after its attempt was recorded (nonzero when slow steps between grant and call bunched calls).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"sender"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_webhook_requests_total",
		Help: "Provider webhooks received, by endpoint (status, inbound) and result (ok, bad_signature, bad_request, error)."},
		[]string{"endpoint", "result"})
	m.webhookSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_webhook_request_duration_seconds",
		Help: "Time to validate, store and apply a webhook.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}, []string{"endpoint"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_status_callbacks_total",
		Help: "Status callbacks by provider status and what became of them (applied, ignored, duplicate, pending)."},
		[]string{"provider_status", "result"})
	m.optOuts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_opt_outs_total",
		Help: "Opt-outs recorded, by source (keyword, provider_error, api, import)."}, []string{"source"})
	m.queueErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: queueErrorsName,
		Help: "Scrapes whose queue depth query failed (the queue gauges are then absent)."})
	m.alertFiring = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: alertFiringName,
		Help: "1 while a built-in alert is firing for a sender, as this node last evaluated it."}, []string{"alert", "sender"})
	m.alertTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: alertTransName,
		Help: "Built-in alert transitions this node wrote (each writes one alert event), by alert and new state (firing, ok)."},
		[]string{"alert", "to"})
	m.deliveryRate = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: deliveryRateName,
		Help: "Share of a sender's outcomes in the alert window that were deliveries, as last evaluated (1 with no outcomes)."},
		[]string{"sender"})
	m.deliveryOutcomes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: deliverySampleNam,
		Help: "Outcomes (delivered + failed) of a sender in the alert window, as last evaluated."}, []string{"sender"})
	for _, c := range []prometheus.Collector{m.queueErrors, m.alertFiring, m.alertTransitions, m.deliveryRate, m.deliveryOutcomes} {
		f(c)
	}
	for _, c := range []prometheus.Collector{m.accepted, m.providerRequests, m.providerSeconds, m.finished, m.retries,
		m.rateWait, m.gateWait, m.webhooks, m.webhookSeconds, m.callbacks, m.optOuts} {
		f(c)
	}
	m.circuit = newCircuitMetrics(f)
	m.registerVerify()
	m.registerOps(f)
	m.health = newHealthMetrics(f)
	m.store = newStoreMetrics(f)
	m.usage = newUsageMetrics(f)
	return m
}

// Names lists the names of Switchboard's own metrics.
func Names() []string {
	names := []string{"switchboard_messages_accepted_total", "switchboard_provider_requests_total",
		"switchboard_provider_request_duration_seconds", "switchboard_messages_finished_total", "switchboard_retries_total",
		"switchboard_rate_limit_wait_seconds", "switchboard_send_gate_wait_seconds", "switchboard_webhook_requests_total", "switchboard_webhook_request_duration_seconds",
		"switchboard_status_callbacks_total", "switchboard_opt_outs_total",
		queueDepthName, queueOldestName, queueErrorsName, alertFiringName, alertTransName, deliveryRateName, deliverySampleNam}
	names = append(names, verifyNames[:5]...)
	names = append(names, opsNames...)
	names = append(names, healthNames...)
	names = append(names, storeNames...)
	names = append(names, usageNames()...)
	return append(names, circuitNames()...)
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// MessageAccepted counts a message accepted through the API.
func (m *Metrics) MessageAccepted(msg *switchboard.Message) {
	m.accepted.WithLabelValues(string(msg.Channel), string(msg.Category), msg.From).Inc()
}

// ProviderRequest records one provider send request.
func (m *Metrics) ProviderRequest(outcome string, code int, d time.Duration) {
	c := ""
	if code != 0 {
		c = strconv.Itoa(code)
	}
	m.providerRequests.WithLabelValues(outcome, c).Inc()
	m.providerSeconds.WithLabelValues(outcome).Observe(d.Seconds())
}

// MessageFinished counts a message the dispatcher ended (failed, blocked, expired).
func (m *Metrics) MessageFinished(msg *switchboard.Message, status switchboard.Status) {
	m.finished.WithLabelValues(string(status), string(msg.Category), msg.From).Inc()
	m.MessageFinal(msg.ID, status, msg.ErrorCode, time.Now())
}

// Retry counts an attempt scheduled again.
func (m *Metrics) Retry(outcome string) { m.retries.WithLabelValues(outcome).Inc() }

// RateLimitWait records how long a message waited for its sender's budget.
func (m *Metrics) RateLimitWait(sender string, d time.Duration) {
	m.rateWait.WithLabelValues(sender).Observe(d.Seconds())
}

// GateWait records how long a provider call waited at its sender's call-point gate.
func (m *Metrics) GateWait(sender string, d time.Duration) {
	m.gateWait.WithLabelValues(sender).Observe(d.Seconds())
}

// Webhook records a webhook request.
func (m *Metrics) Webhook(endpoint, result string, d time.Duration) {
	m.webhooks.WithLabelValues(endpoint, result).Inc()
	m.webhookSeconds.WithLabelValues(endpoint).Observe(d.Seconds())
}

// Callback records what became of a status callback.
func (m *Metrics) Callback(providerStatus string, res switchboard.CallbackResult) {
	result := "ignored"
	switch {
	case res.Duplicate:
		result = "duplicate"
	case res.Pending:
		result = "pending"
	case res.Applied:
		result = "applied"
		if res.Status.Terminal() {
			m.MessageFinal(res.MessageID, res.Status, res.ErrorCode, time.Now())
		}
	}
	m.callbacks.WithLabelValues(providerStatus, result).Inc()
}

// OptOut counts an opt-out.
func (m *Metrics) OptOut(source switchboard.ConsentSource) {
	m.optOuts.WithLabelValues(string(source)).Inc()
}
