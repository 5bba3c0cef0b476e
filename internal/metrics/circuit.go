package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// circuitMetrics are the provider circuit breaker's metrics.
type circuitMetrics struct {
	state    *prometheus.GaugeVec
	rejected *prometheus.CounterVec
	opened   *prometheus.CounterVec
}

func newCircuitMetrics(register func(prometheus.Collector)) circuitMetrics {
	c := circuitMetrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_provider_circuit_state",
			Help: "State of this node's circuit breaker to the provider: 0 closed, 1 open, 2 half-open (one probe in flight)."},
			[]string{"provider"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_provider_circuit_rejected_total",
			Help: "Provider calls the open circuit refused without a request (the message waited queued)."}, []string{"provider"}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_provider_circuit_opened_total",
			Help: "Times the circuit to the provider opened."}, []string{"provider"}),
	}
	register(c.state)
	register(c.rejected)
	register(c.opened)
	return c
}

func circuitNames() []string {
	return []string{"switchboard_provider_circuit_state", "switchboard_provider_circuit_rejected_total",
		"switchboard_provider_circuit_opened_total"}
}

var _ dispatch.CircuitObserver = (*Metrics)(nil)

// CircuitState records the state of the circuit to provider.
func (m *Metrics) CircuitState(provider string, s dispatch.CircuitState) {
	m.circuit.state.WithLabelValues(provider).Set(float64(s))
	if s == dispatch.CircuitOpen {
		m.circuit.opened.WithLabelValues(provider).Inc()
	}
}

// CircuitRejected counts a call the open circuit refused.
func (m *Metrics) CircuitRejected(provider string) {
	m.circuit.rejected.WithLabelValues(provider).Inc()
}
