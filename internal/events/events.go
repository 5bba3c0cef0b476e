// Package events delivers Switchboard's events to applications: signed webhooks to their
// endpoints (Standard Webhooks) and, when configured, a NATS JetStream subject.
//
// The store writes each event in the same transaction as the change it reports (the event log is
// a transactional outbox). A Worker then fans each event out into one delivery per matching
// endpoint, claims due deliveries with leases (the pattern of the message outbox, so several
// nodes share the work and a dead node's claims expire), POSTs them, and records each outcome:
// delivered, retried on a schedule, or a dead letter. An endpoint failing without a success for
// too long is disabled, with an endpoint.disabled event. Delivery is at least once; receivers
// deduplicate on the webhook-id header (the event's ID).
package events

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/netguard"
)

// BusEndpointID is the endpoint that stands for the NATS JetStream bus: its deliveries are
// published, not POSTed.
const BusEndpointID = "ep_nats"

// DefaultSchedule is the wait before each retry of a failed delivery: 5 s, 5 min, 30 min, 2 h,
// 5 h, 10 h. After the last retry fails the delivery is a dead letter.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}

// Publisher publishes an event to the bus.
type Publisher interface {
	Publish(ctx context.Context, ev *switchboard.AppEvent, body []byte) error
}

// Config wires a Worker.
type Config struct {
	Store  Store
	Clock  switchboard.Clock
	Logger *slog.Logger
	// Owner names this node in leases; unique per process.
	Owner string
	// Timeout bounds one delivery attempt (default 10 s).
	Timeout time.Duration
	// Lease is how long a claimed delivery is held (default: Timeout plus 30 s).
	Lease time.Duration
	// Schedule is the wait before each retry (default DefaultSchedule).
	Schedule []time.Duration
	// Jitter adds up to this fraction of each wait at random (default 0.1), so that retries of
	// many deliveries do not arrive together.
	Jitter float64
	// DisableAfter disables an endpoint whose deliveries have failed without a success for this
	// long (default 5 days; negative: never).
	DisableAfter time.Duration
	// AllowPrivate lets deliveries reach private, loopback and link-local addresses; otherwise
	// the network guard (internal/netguard) refuses them at every connection.
	AllowPrivate bool
	// TLS, when set, is the TLS configuration of deliveries (a client certificate for endpoints
	// that verify one, test roots).
	TLS *tls.Config
	// Concurrency bounds the deliveries in flight (default 16).
	Concurrency int
	// PollInterval is how often the worker looks for work without a wake-up (default 200 ms).
	PollInterval time.Duration
	// Bus publishes the deliveries of BusEndpointID; nil without NATS.
	Bus Publisher
	// Observe, when set, is told each attempt's result (delivered, retry, dead) and how long
	// the endpoint took.
	Observe func(result string, d time.Duration)
}

// Worker fans events out and delivers them. Run it once per node.
type Worker struct {
	cfg    Config
	client *http.Client
	wake   chan struct{}
	sem    chan struct{}
	wg     sync.WaitGroup
}

// New returns a Worker with defaults filled in.
func New(cfg Config) *Worker {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		cfg.Owner = switchboard.NewID("node")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Lease <= cfg.Timeout {
		cfg.Lease = cfg.Timeout + 30*time.Second
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	} else if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.DisableAfter == 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	return &Worker{
		cfg: cfg,
		// A redirect is an answer, not a success: following it could lead anywhere.
		client: netguard.Client(netguard.ClientOptions{AllowPrivate: cfg.AllowPrivate, Timeout: cfg.Timeout, TLS: cfg.TLS}),
		wake:   make(chan struct{}, 1),
		sem:    make(chan struct{}, cfg.Concurrency),
	}
}

// Notify tells the worker that work may be due now (new events, a replay).
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run fans out and delivers until ctx ends; then it lets the deliveries in flight finish and
// releases its leases.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		w.Step(ctx)
		select {
		case <-ctx.Done():
			w.wg.Wait()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := w.cfg.Store.ReleaseDeliveries(rctx, w.cfg.Owner)
			cancel()
			if err != nil {
				w.cfg.Logger.Error("releasing delivery leases", "err", err)
			}
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// Step fans out the events written since the last step and starts the deliveries that are due.
func (w *Worker) Step(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := w.cfg.Store.FanOutEvents(ctx, w.cfg.Clock(), 500)
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.Error("fanning out events", "err", err)
			}
			break
		}
		if n < 500 {
			break
		}
	}
	for ctx.Err() == nil {
		free := cap(w.sem) - len(w.sem)
		if free == 0 {
			return
		}
		now := w.cfg.Clock()
		ds, err := w.cfg.Store.ClaimDeliveries(ctx, switchboard.DeliveryClaim{
			Owner: w.cfg.Owner, Now: now, LeaseUntil: now.Add(w.cfg.Lease), Limit: free,
		})
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.Error("claiming deliveries", "err", err)
			}
			return
		}
		for _, d := range ds {
			w.sem <- struct{}{}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.deliver(context.WithoutCancel(ctx), d)
			}()
		}
		if len(ds) < free {
			return
		}
	}
}

// Wait waits for the deliveries in flight.
func (w *Worker) Wait() { w.wg.Wait() }

// deliver makes one attempt and records its outcome. It runs to the end even when the node is
// stopping, since the attempt may already have reached the endpoint.
func (w *Worker) deliver(ctx context.Context, d *switchboard.Delivery) {
	log := w.cfg.Logger.With("delivery_id", d.ID, "event_id", d.EventID, "endpoint_id", d.EndpointID, "attempt", d.Attempts+1)
	start := time.Now()
	status, err := w.attempt(ctx, d)
	took := time.Since(start)
	at := w.cfg.Clock()
	r := switchboard.DeliveryResult{ID: d.ID, Owner: w.cfg.Owner, At: at, StatusCode: status, Delivered: err == nil}
	if err != nil {
		r.Error = truncate(err.Error(), 500)
		if d.Attempts < len(w.cfg.Schedule) {
			next := at.Add(w.jittered(w.cfg.Schedule[d.Attempts]))
			r.NextAttemptAt = &next
		}
		if d.EndpointID != BusEndpointID && w.cfg.DisableAfter > 0 {
			r.DisableAfter = w.cfg.DisableAfter
		}
	}
	if w.cfg.Observe != nil {
		result := "delivered"
		switch {
		case err == nil:
		case r.NextAttemptAt != nil:
			result = "retry"
		default:
			result = "dead"
		}
		w.cfg.Observe(result, took)
	}
	disabled, ferr := w.cfg.Store.FinishDelivery(ctx, r)
	switch {
	case switchboard.IsKind(ferr, switchboard.ECONFLICT):
		log.Warn("delivery outcome not recorded: the lease was lost (the endpoint was disabled or deleted, or the lease expired)", "err", ferr)
	case ferr != nil:
		log.Error("recording a delivery outcome", "err", ferr)
	case err == nil:
		log.Debug("delivered", "status", status)
	case r.NextAttemptAt != nil:
		log.Info("delivery failed; will retry", "status", status, "err", r.Error, "next_attempt_at", r.NextAttemptAt)
	default:
		log.Warn("delivery failed for the last time: dead letter", "status", status, "err", r.Error)
	}
	if disabled {
		log.Warn("endpoint disabled: it failed for too long", "disable_after", w.cfg.DisableAfter)
		w.Notify() // the endpoint.disabled event
	}
}

func (w *Worker) jittered(d time.Duration) time.Duration {
	if w.cfg.Jitter <= 0 {
		return d
	}
	return d + time.Duration(rand.Float64()*w.cfg.Jitter*float64(d))
}

// attempt sends d once and returns the HTTP status (0 without an answer) and an error unless
// the endpoint took it.
func (w *Worker) attempt(ctx context.Context, d *switchboard.Delivery) (int, error) {
	if d.Event == nil || d.Endpoint == nil {
		return 0, errors.New("delivery without its event or endpoint")
	}
	body, err := Body(d.Event)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	if d.EndpointID == BusEndpointID {
		if w.cfg.Bus == nil {
			return 0, errors.New("no NATS bus configured on this node")
		}
		if err := w.cfg.Bus.Publish(ctx, d.Event, body); err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
		return 0, nil
	}
	now := w.cfg.Clock()
	sig := Sign(d.Endpoint.ActiveSecrets(now), d.Event.ID, now, body)
	if sig == "" {
		return 0, errors.New("the endpoint has no valid active secret to sign with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Endpoint.URL, strings.NewReader(string(body)))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Webhooks/"+switchboard.Version)
	req.Header.Set(HeaderID, d.Event.ID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(HeaderSignature, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, describe(err, w.cfg.Timeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// describe turns a transport error into a short reason for the delivery's last_error.
func describe(err error, timeout time.Duration) error {
	return errors.New(netguard.Reason(err, timeout))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
