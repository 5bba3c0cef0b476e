package dispatch

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// CircuitObserver receives the breaker's measurements. The dispatcher uses it when its Observer
// implements it too (metrics do).
type CircuitObserver interface {
	// CircuitState reports the state of the circuit to provider.
	CircuitState(provider string, state CircuitState)
	// CircuitRejected counts a call the open circuit refused (no request made).
	CircuitRejected(provider string)
}

// Breaker is the dispatcher's circuit breaker in front of its provider.
func (d *Dispatcher) Breaker() *Breaker { return d.breaker }

func (d *Dispatcher) providerName() string {
	if d.cfg.Provider == nil {
		return ""
	}
	return d.cfg.Provider.Name()
}

// newBreaker makes the dispatcher's breaker; its changes go to the metrics at once and to the
// event log through reportCircuit.
func (d *Dispatcher) newBreaker() *Breaker {
	d.circuitEvents = make(chan CircuitChange, 64)
	if co, ok := d.cfg.Observer.(CircuitObserver); ok {
		co.CircuitState(d.providerName(), CircuitClosed)
	}
	return NewBreaker(d.providerName(), d.cfg.Breaker, d.cfg.Clock, func(c CircuitChange) {
		if co, ok := d.cfg.Observer.(CircuitObserver); ok {
			co.CircuitState(c.Provider, c.State)
		}
		log := d.cfg.Logger.With("provider", c.Provider, "consecutive_failures", c.ConsecutiveFailures, "last_error", c.LastError)
		if c.State == CircuitOpen {
			log.Error("provider circuit opened: calls stop except probes; queued messages wait")
		} else {
			log.Warn("provider circuit closed: sending again", "outage", c.At.Sub(c.OpenedAt).Round(time.Millisecond),
				"probes", c.Probes, "rejected", c.Rejected)
		}
		select {
		case d.circuitEvents <- c:
		default:
			d.cfg.Logger.Error("circuit change not recorded in the event log: too many pending", "state", c.State.String())
		}
	})
}

// reportCircuit writes the breaker's changes to the event log (provider.circuit_opened and
// provider.circuit_closed, delivered to applications like every event) until ctx ends, then
// writes those still pending.
func (d *Dispatcher) reportCircuit(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	write := func(c CircuitChange) {
		typ := switchboard.AppProviderCircuitOpened
		data := switchboard.CircuitChangedData{
			Provider: c.Provider, Node: d.cfg.Owner, State: c.State.String(), OpenedAt: c.OpenedAt.UTC(),
			ConsecutiveFailures: c.ConsecutiveFailures, LastError: c.LastError, Probes: c.Probes, Rejected: c.Rejected,
		}
		if c.State == CircuitClosed {
			typ = switchboard.AppProviderCircuitClosed
			at := c.At.UTC()
			data.ClosedAt = &at
		}
		ev, err := switchboard.NewAppEvent(typ, c.At, data)
		if err == nil {
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = d.cfg.Store.AppendAppEvent(wctx, ev)
			cancel()
		}
		if err != nil {
			d.cfg.Logger.Error("recording circuit change", "state", c.State.String(), "err", err)
		}
	}
	for {
		select {
		case c := <-d.circuitEvents:
			write(c)
		case <-ctx.Done():
			for {
				select {
				case c := <-d.circuitEvents:
					write(c)
				default:
					return
				}
			}
		}
	}
}

// waitCircuit holds a drain loop while the circuit refuses calls. It returns the number of
// messages the loop may claim now (1 for the probe of an open circuit) or false when ctx ended.
func (d *Dispatcher) waitCircuit(ctx context.Context, batch int) (int, bool) {
	for {
		blocked, until, changed := d.breaker.Blocked()
		if !blocked {
			if d.breaker.State() != CircuitClosed {
				return 1, ctx.Err() == nil
			}
			return batch, ctx.Err() == nil
		}
		t := time.NewTimer(max(until.Sub(d.cfg.Clock()), time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, false
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// allowCall asks the breaker for a provider call for m; when the circuit refuses, m's lease is
// released untouched (no attempt recorded: it waits queued) and nil is returned.
func (d *Dispatcher) allowCall(m *switchboard.Message) *Ticket {
	tk := d.breaker.Allow()
	if tk == nil {
		if co, ok := d.cfg.Observer.(CircuitObserver); ok {
			co.CircuitRejected(d.providerName())
		}
		d.release([]*switchboard.Message{m})
	}
	return tk
}
