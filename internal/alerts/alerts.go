// Package alerts evaluates Switchboard's built-in alerts and reports their transitions as events
// to applications (alert.delivery_rate_low, alert.delivery_rate_recovered) through the event
// outbox.
//
// # Several nodes
//
// Every node evaluates the same alerts from the shared store on its own schedule. A transition is
// a compare-and-set on the alert's stored state, in the transaction that appends its event
// (switchboard.ObservabilityStore.TransitionAlert): whichever node gets there first writes the
// event, the others find the state already moved and write nothing. So an event is written once
// per transition, not once per node nor once per evaluation, and a node that restarts does not
// fire again an alert that is already firing.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// DeliveryRateLow is the name of the delivery-rate alert (the prefix of its keys, the alert label
// of its metrics).
const DeliveryRateLow = "delivery_rate_low"

// Key is the stored key of the delivery-rate alert of sender.
func Key(sender string) string { return DeliveryRateLow + "/" + sender }

// Observer hears of evaluations and transitions (the metrics package).
type Observer interface {
	AlertState(alert, sender string, firing bool, rate float64, outcomes int64)
	AlertTransition(alert, to string)
}

// Config configures an Evaluator.
type Config struct {
	Store switchboard.ObservabilityStore
	// Threshold fires the alert for a sender whose delivery rate in Window is below it.
	Threshold float64
	// Recover is the margin above Threshold that a firing alert's rate must reach to recover
	// (hysteresis: a sender hovering at the threshold does not flap between the two).
	Recover float64
	Window  time.Duration
	// MinSamples is how many outcomes a sender needs in Window before its rate counts, either
	// to fire or to recover: a handful of failures on a quiet sender is not an outage, and a
	// sender that went quiet stays as it was until there is evidence.
	MinSamples int
	// Interval is how often Run evaluates.
	Interval time.Duration
	Clock    switchboard.Clock
	Logger   *slog.Logger
	Observer Observer
	// OnEvent is called after a transition wrote its event (to wake the event worker).
	OnEvent func()
}

// Evaluator evaluates the delivery-rate alert of every sender.
type Evaluator struct {
	cfg Config
}

// New returns an Evaluator.
func New(cfg Config) *Evaluator {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinSamples < 1 {
		cfg.MinSamples = 1
	}
	return &Evaluator{cfg: cfg}
}

// Transition is one transition an evaluation wrote.
type Transition struct {
	Sender string
	To     switchboard.AlertState
	Data   switchboard.DeliveryRateAlertData
}

// Evaluate counts each sender's outcomes in the window ending now and moves its alert: to firing
// when the rate is below the threshold, back to ok when it is at or above the threshold plus the
// recovery margin (at most 1), in both cases only with at least MinSamples outcomes; in between
// the alert stays as it is. It returns the transitions this call wrote.
func (e *Evaluator) Evaluate(ctx context.Context) ([]Transition, error) {
	c := e.cfg
	now := c.Clock().UTC()
	since := now.Add(-c.Window)
	outcomes, err := c.Store.DeliveryOutcomes(ctx, since, now)
	if err != nil {
		return nil, fmt.Errorf("alerts: delivery outcomes: %w", err)
	}
	states, err := c.Store.AlertStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("alerts: states: %w", err)
	}
	var out []Transition
	seen := map[string]bool{}
	for _, o := range outcomes {
		seen[o.Sender] = true
		state := states[Key(o.Sender)]
		if state == "" {
			state = switchboard.AlertOK
		}
		rate := o.Rate()
		want := state
		if o.Total() >= int64(c.MinSamples) {
			switch {
			case rate < c.Threshold:
				want = switchboard.AlertFired
			case rate >= min(1, c.Threshold+c.Recover):
				want = switchboard.AlertOK
			}
		}
		if want != state {
			t, applied, err := e.transition(ctx, o, state, want, since, now)
			if err != nil {
				return out, err
			}
			if applied {
				out = append(out, t)
			}
			// Applied or not, the store now holds want: another node may have written it.
			state = want
		}
		if c.Observer != nil {
			c.Observer.AlertState(DeliveryRateLow, o.Sender, state == switchboard.AlertFired, rate, o.Total())
		}
	}
	// Senders with no outcomes in the window keep their state; their gauges say so.
	if c.Observer != nil {
		for key, state := range states {
			sender, ok := strings.CutPrefix(key, DeliveryRateLow+"/")
			if ok && !seen[sender] {
				c.Observer.AlertState(DeliveryRateLow, sender, state == switchboard.AlertFired, 1, 0)
			}
		}
	}
	return out, nil
}

func (e *Evaluator) transition(ctx context.Context, o switchboard.SenderOutcomes, from, to switchboard.AlertState, since, now time.Time) (Transition, bool, error) {
	c := e.cfg
	data := switchboard.DeliveryRateAlertData{
		Sender: o.Sender, Rate: o.Rate(), Threshold: c.Threshold, Delivered: o.Delivered, Failed: o.Failed,
		WindowSeconds: int64(c.Window / time.Second), WindowStart: since, WindowEnd: now,
	}
	typ := switchboard.AppAlertDeliveryRateLow
	if to == switchboard.AlertOK {
		typ = switchboard.AppAlertDeliveryRateRecovered
	}
	ev, err := switchboard.NewAppEvent(typ, now, data)
	if err != nil {
		return Transition{}, false, err
	}
	applied, err := c.Store.TransitionAlert(ctx, switchboard.AlertTransition{Key: Key(o.Sender), From: from, To: to, At: now, Event: ev})
	if err != nil {
		return Transition{}, false, fmt.Errorf("alerts: %s %s→%s: %w", Key(o.Sender), from, to, err)
	}
	if !applied {
		return Transition{}, false, nil
	}
	level := slog.LevelWarn
	if to == switchboard.AlertOK {
		level = slog.LevelInfo
	}
	c.Logger.Log(ctx, level, "alert "+string(typ), "sender", o.Sender, "rate", data.Rate, "threshold", c.Threshold,
		"delivered", o.Delivered, "failed", o.Failed, "window", c.Window, "event", ev.ID)
	if c.Observer != nil {
		c.Observer.AlertTransition(DeliveryRateLow, string(to))
	}
	if c.OnEvent != nil {
		c.OnEvent()
	}
	return Transition{Sender: o.Sender, To: to, Data: data}, true, nil
}

// Run evaluates every Interval until ctx ends. Errors are logged; the next evaluation retries.
func (e *Evaluator) Run(ctx context.Context) {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Error("evaluating alerts", "err", err)
			}
		}
	}
}
