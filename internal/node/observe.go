package node

import (
	"context"
	"time"

	"github.com/switchboard-gw/switchboard"

	"github.com/switchboard-gw/switchboard/internal/alerts"
)

// openObserve makes the queue gauges read the store and, when the delivery-rate alert is
// configured, the alert evaluator.
func (n *Node) openObserve() {
	var senders []string
	for _, s := range n.cfg.Senders {
		senders = append(senders, s.From)
	}
	n.metrics.SetQueueStats(exactQueueStats(n.store), n.clock, n.cfg.MetricsQueueMaxAge, senders)
	if n.cfg.FlowsDir != "" {
		n.metrics.SetCallQueue(n.store.CallQueue, n.clock, n.cfg.MetricsQueueMaxAge)
	}
	a := n.cfg.Alerts
	if a.DeliveryRateThreshold <= 0 {
		return
	}
	n.alerts = alerts.New(alerts.Config{
		Store: n.store, Threshold: a.DeliveryRateThreshold, Recover: a.DeliveryRateRecover, Window: a.DeliveryRateWindow, MinSamples: a.DeliveryRateMinSamples,
		Interval: a.Interval, Clock: n.clock, Logger: n.logger.With("component", "alerts"), Observer: n.metrics,
		OnEvent: n.notifyEvents,
	})
}

// exactQueueStats is what the queue gauges read: exact counts (limit 0), never the dashboard's
// capped ones, since a gauge stuck at a cap would flat-line a draining backlog and hide it. The
// count reads the outbox index once per MetricsQueueMaxAge at most, off any request's path.
func exactQueueStats(st switchboard.ObservabilityStore) func(ctx context.Context, now time.Time) ([]switchboard.SenderQueue, error) {
	return func(ctx context.Context, now time.Time) ([]switchboard.SenderQueue, error) {
		return st.QueueStats(ctx, now, 0)
	}
}

// startAlerts runs the alert evaluator, when configured, until ctx ends.
func (n *Node) startAlerts(ctx context.Context) {
	if n.alerts != nil {
		go n.alerts.Run(ctx)
	}
}

// Alerts is the node's alert evaluator, or nil when no built-in alert is configured.
func (n *Node) Alerts() *alerts.Evaluator { return n.alerts }
