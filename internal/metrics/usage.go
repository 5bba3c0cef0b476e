package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// usageMetrics count quota and staging refusals and the prices fetched. None is labelled by
// tenant: tenants are created at run time through the API, so a tenant label would have no
// bound; per-tenant numbers are the usage report's (GET /v1/usage). Their labels are stable
// codes and results, a handful of values each.
type usageMetrics struct {
	refusals *prometheus.CounterVec
	prices   *prometheus.CounterVec
	spend    prometheus.Counter
}

const (
	refusalsName = "switchboard_tenant_refusals_total"
	pricesName   = "switchboard_prices_fetched_total"
	spendName    = "switchboard_spend_micros_total"
)

// refusalCodes are the codes the refusal counter counts; any other is not a tenant refusal.
var refusalCodes = map[string]bool{
	switchboard.CodeQuotaExceeded: true, switchboard.CodeSpendCapReached: true,
	switchboard.CodeStagingRecipient: true, switchboard.CodeStagingSimulator: true,
}

func newUsageMetrics(register func(prometheus.Collector)) usageMetrics {
	u := usageMetrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: refusalsName,
			Help: "Requests refused by their tenant's quotas or environment, by code (quota_exceeded, spend_cap_reached, staging_recipient_not_allowed, staging_simulator_unavailable)."},
			[]string{"code"}),
		prices: prometheus.NewCounterVec(prometheus.CounterOpts{Name: pricesName,
			Help: "Fetches of a finished message's price from the provider, by result (found, missing: not priced yet)."},
			[]string{"result"}),
		spend: prometheus.NewCounter(prometheus.CounterOpts{Name: spendName,
			Help: "What the provider charged for messages, in millionths of the account's price unit, as the prices were fetched by this node."}),
	}
	register(u.refusals)
	register(u.prices)
	register(u.spend)
	return u
}

func usageNames() []string { return []string{refusalsName, pricesName, spendName} }

var _ dispatch.PriceObserver = (*Metrics)(nil)

// TenantRefusal counts a request refused with code by its tenant's quotas or environment; other
// codes are ignored (the label stays bounded).
func (m *Metrics) TenantRefusal(code string) {
	if refusalCodes[code] {
		m.usage.refusals.WithLabelValues(code).Inc()
	}
}

// PriceFetched counts one fetch of a message's price and the spend it found.
func (m *Metrics) PriceFetched(found bool, micros int64, _ string) {
	if !found {
		m.usage.prices.WithLabelValues("missing").Inc()
		return
	}
	m.usage.prices.WithLabelValues("found").Inc()
	m.usage.spend.Add(float64(micros))
}
