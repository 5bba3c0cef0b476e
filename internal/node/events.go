package node

import (
	"context"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// eventsPart is the node's delivery of events to applications: the worker that fans the event
// log out to endpoints and delivers, and the NATS bus when configured.
type eventsPart struct {
	worker *events.Worker
	bus    *events.NATS
	done   chan struct{}
}

// openEvents records the configuration's endpoints (and the bus's), connects to NATS when
// configured and makes the worker.
func (n *Node) openEvents(ctx context.Context, opts Options) error {
	cfg := n.cfg
	eps := cfg.Endpoints
	if cfg.NATSURL != "" {
		eps = append(eps[:len(eps):len(eps)], &switchboard.Endpoint{
			ID: events.BusEndpointID, URL: events.RedactURL(cfg.NATSURL), Description: "NATS JetStream " + cfg.NATSStream + ": " + cfg.NATSSubject + ".<type>",
			EventTypes: []string{"*"}, Source: switchboard.EndpointFromConfig,
		})
	}
	if err := n.store.SyncEndpoints(ctx, eps, n.clock()); err != nil {
		return fmt.Errorf("recording the configured endpoints: %w", err)
	}
	ecfg := events.Config{
		Store: n.store, Clock: n.clock, Logger: n.logger.With("component", "events"),
		Timeout: cfg.EndpointsTimeout, Schedule: cfg.EndpointsRetrySchedule, DisableAfter: cfg.EndpointsDisableAfter,
		AllowPrivate: cfg.EndpointsAllowPrivate, Concurrency: cfg.EndpointsConcurrency,
		// The node's metrics are made after its events; they exist before the worker runs.
		Observe: func(result string, d time.Duration) { n.metrics.EventDelivery(result, d) },
	}
	if ecfg.DisableAfter == 0 {
		ecfg.DisableAfter = -1 // 0 in the configuration means never
	}
	if cfg.NATSURL != "" {
		bus, err := events.DialNATS(cfg.NATSURL, cfg.NATSSubject, cfg.NATSStream, n.logger.With("component", "nats"))
		if err != nil {
			return err
		}
		n.ev.bus, ecfg.Bus = bus, bus
	}
	if opts.EventsConfig != nil {
		opts.EventsConfig(&ecfg)
	}
	n.ev.worker = events.New(ecfg)
	return nil
}

// endpointsAPI configures the API's endpoints part.
func (n *Node) endpointsAPI() api.EndpointsConfig {
	return api.EndpointsConfig{AllowPrivate: n.cfg.EndpointsAllowPrivate, OnReplay: n.notifyEvents}
}

// notifyEvents wakes the worker.
func (n *Node) notifyEvents() {
	if n.ev.worker != nil {
		n.ev.worker.Notify()
	}
}

// startEvents runs the worker until ctx ends.
func (n *Node) startEvents(ctx context.Context) {
	n.ev.done = make(chan struct{})
	go func() {
		defer close(n.ev.done)
		n.ev.worker.Run(ctx)
	}()
}

// waitEvents waits for the worker, stopped by the end of its context, to finish the deliveries
// in flight (each bounded by endpoints_timeout) and release its leases.
func (n *Node) waitEvents(ctx context.Context) error {
	if n.ev.done == nil {
		return nil
	}
	select {
	case <-n.ev.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("event deliveries did not drain in time: %w", ctx.Err())
	}
}

// closeEvents closes the NATS connection.
func (n *Node) closeEvents() {
	if n.ev.bus != nil {
		n.ev.bus.Close()
	}
}
