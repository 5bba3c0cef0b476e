package metrics

import "github.com/prometheus/client_golang/prometheus"

// verifyMetrics count verifications. Labels are countries, channels, statuses and reasons:
// never numbers and never codes. Conversion is approved over started, by country and channel:
//
//	sum by (country, channel) (rate(switchboard_verifications_approved_total[1h]))
//	  / sum by (country, channel) (rate(switchboard_verifications_started_total[1h]))
type verifyMetrics struct {
	started, approved, failed, refused, fallbacks *prometheus.CounterVec
}

// verifyNames are the names of the verification metrics.
var verifyNames = []string{"switchboard_verifications_started_total", "switchboard_verifications_approved_total",
	"switchboard_verifications_failed_total", "switchboard_verification_refusals_total", "switchboard_verification_fallbacks_total"}

func (m *Metrics) registerVerify() {
	v := &m.verify
	v.started = prometheus.NewCounterVec(prometheus.CounterOpts{Name: verifyNames[0],
		Help: "Verifications started, by destination country and channel."}, []string{"country", "channel"})
	v.approved = prometheus.NewCounterVec(prometheus.CounterOpts{Name: verifyNames[1],
		Help: "Verifications approved, by destination country and the channel of the last code (conversion = approved / started)."}, []string{"country", "channel"})
	v.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: verifyNames[2],
		Help: "Verifications ended without approval, by country, channel and status (max_attempts_reached, expired, canceled, failed)."}, []string{"country", "channel", "status"})
	v.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: verifyNames[3],
		Help: "Verification requests refused, by reason (rate limits, geo permissions, blocked prefixes, pumping)."}, []string{"reason"})
	v.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: verifyNames[4],
		Help: "Codes moved to another channel because a text was not delivered in time."}, []string{"from", "to"})
	m.reg.MustRegister(v.started, v.approved, v.failed, v.refused, v.fallbacks)
}

func country(c string) string {
	if c == "" {
		return "unknown"
	}
	return c
}

// VerificationStarted counts a started verification.
func (m *Metrics) VerificationStarted(c, channel string) {
	m.verify.started.WithLabelValues(country(c), channel).Inc()
}

// VerificationApproved counts an approved verification.
func (m *Metrics) VerificationApproved(c, channel string) {
	m.verify.approved.WithLabelValues(country(c), channel).Inc()
}

// VerificationFailed counts a verification that ended without approval.
func (m *Metrics) VerificationFailed(c, channel, status string) {
	m.verify.failed.WithLabelValues(country(c), channel, status).Inc()
}

// VerificationRefused counts a refused verification request.
func (m *Metrics) VerificationRefused(reason string) { m.verify.refused.WithLabelValues(reason).Inc() }

// VerificationFallback counts a code moved from one channel to another.
func (m *Metrics) VerificationFallback(from, to string) {
	m.verify.fallbacks.WithLabelValues(from, to).Inc()
}
