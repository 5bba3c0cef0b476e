package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// OutageConfig says how to run the provider outage drill.
type OutageConfig struct {
	Config
	// Outage is how long the provider is down: the first half its address refuses connections,
	// the second half it answers 503 to everything (default 2 minutes).
	Outage time.Duration
	// Before is the normal operation before the outage (default 5 s).
	Before time.Duration
	// Rate is the messages per second offered to the API before and during the outage (default 50).
	Rate int
	// SenderRate is the sender's configured rate in segments per second, the rate the backlog
	// must drain at (default twice Rate).
	SenderRate int
	// Breaker tunes the node's circuit breaker (dispatch defaults when zero).
	Breaker dispatch.BreakerConfig
	// DrainTimeout bounds the wait for the backlog after the outage (default 5 minutes).
	DrainTimeout time.Duration
}

// OutageResult is what the outage drill measured. Provider calls are counted where the dispatcher
// makes them (every Send, Find and Fetch, whether or not a connection was made); requests are
// counted where the simulator's address answers.
type OutageResult struct {
	Bench      string  `json:"bench"`
	Database   string  `json:"database"`
	Cores      int     `json:"cores"`
	OutageS    float64 `json:"outage_s"`
	RefusedS   float64 `json:"refused_s"`    // connection refused (listener closed)
	Status503S float64 `json:"status_503_s"` // every request answered 503
	RatePerS   int     `json:"offered_rate_per_s"`
	SenderRate int     `json:"sender_rate_per_s"`
	// CallsBeforePerS is the provider call rate in normal operation before the outage.
	CallsBeforePerS float64 `json:"calls_before_per_s"`
	// CallsToOpen were made from the start of the outage until the circuit opened (calls already
	// in flight included); OpenAfterS is when it opened, from the start of the outage.
	CallsToOpen int64   `json:"calls_to_open"`
	OpenAfterS  float64 `json:"open_after_s"`
	// CallsWhileOpen were made during the outage after the circuit opened (the probes), and
	// CallsWhileOpenPerS their rate: bounded by the probe schedule, whatever the backlog.
	CallsWhileOpen     int64   `json:"calls_while_open"`
	CallsWhileOpenPerS float64 `json:"calls_while_open_per_s"`
	// Requests503 reached the simulator's address while it answered 503.
	Requests503     int64   `json:"requests_503"`
	Requests503PerS float64 `json:"requests_503_per_s"`
	// CallsOutagePerS is every call during the outage over its length.
	CallsOutage     int64   `json:"calls_outage"`
	CallsOutagePerS float64 `json:"calls_outage_per_s"`
	// Offered and Accepted during the whole run; AcceptedDuringOutage while the provider was
	// down (Switchboard keeps accepting); AcceptFailures are requests never answered 2xx.
	Offered              int64 `json:"offered"`
	Accepted             int64 `json:"accepted"`
	AcceptedDuringOutage int64 `json:"accepted_during_outage"`
	AcceptFailures       int64 `json:"accept_failures"`
	// EndedDuringOutage counts messages of the run that ended (failed, expired...) without
	// reaching the simulator while it was down: 0, as they could still be sent within validity.
	EndedDuringOutage int64 `json:"ended_during_outage"`
	// ClosedAfterS is when the circuit closed, from the provider's return (the next probe).
	ClosedAfterS float64 `json:"closed_after_s"`
	// Backlog is how many accepted messages the simulator lacked when it came back; DrainS how
	// long until it held them all, and DrainRatePerS the rate it received them at after the
	// circuit closed (the senders' rate, less its burst), DrainRatio that over SenderRate.
	Backlog       int64   `json:"backlog"`
	DrainS        float64 `json:"drain_s"`
	DrainRatePerS float64 `json:"drain_rate_per_s"`
	DrainRatio    float64 `json:"drain_ratio"`
	// Lost and Duplicated are counted at the simulator as in the chaos soak.
	Sent       int64 `json:"sent"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	// CircuitEvents are the event types the node wrote to its event log, in order.
	CircuitEvents []string `json:"circuit_events"`
	LoadAvg1m     float64  `json:"load_avg_1m"`
	Verified      bool     `json:"verified"`
	Check         string   `json:"check"`
	Notes         []string `json:"notes,omitempty"`
}

func (c OutageConfig) withDefaults() OutageConfig {
	c.Config = c.Config.withDefaults()
	if c.Outage <= 0 {
		c.Outage = 2 * time.Minute
	}
	if c.Before <= 0 {
		c.Before = 5 * time.Second
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.SenderRate <= 0 {
		c.SenderRate = 2 * c.Rate
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Minute
	}
	return c
}

// Provider modes of the drill.
const (
	providerUp int32 = iota
	providerRefused
	providerUnavailable
)

// outageSim serves the simulator on a fixed address that the drill can close (connections
// refused) and reopen answering 503 to every request, then normally.
type outageSim struct {
	sim  *twiliosim.Simulator
	addr string
	mode atomic.Int32
	n503 atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func (s *outageSim) serve(w http.ResponseWriter, r *http.Request) {
	if s.mode.Load() == providerUnavailable {
		s.n503.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":20503,"message":"Service Unavailable","more_info":"https://www.twilio.com/docs/errors/20503","status":503}`))
		return
	}
	s.sim.Handler().ServeHTTP(w, r)
}

// listen (re)opens the address; after a close the port is free again at once on loopback.
func (s *outageSim) listen() error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("reopening the simulator's address: %w", err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// refuse closes the listener and every open connection: new connections are refused.
func (s *outageSim) refuse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// circuitWatch passes the dispatcher's measurements on and keeps the circuit's state.
type circuitWatch struct {
	dispatch.Observer
	st atomic.Int32
}

// CircuitState records the state and passes it on.
func (c *circuitWatch) CircuitState(provider string, s dispatch.CircuitState) {
	c.st.Store(int32(s))
	if co, ok := c.Observer.(dispatch.CircuitObserver); ok {
		co.CircuitState(provider, s)
	}
}

// CircuitRejected passes the refusal on.
func (c *circuitWatch) CircuitRejected(provider string) {
	if co, ok := c.Observer.(dispatch.CircuitObserver); ok {
		co.CircuitRejected(provider)
	}
}

func (c *circuitWatch) state() dispatch.CircuitState { return dispatch.CircuitState(c.st.Load()) }

// endedUnsent returns the messages created since since that ended in a status other than
// delivered, sent or read without reaching the simulator.
func endedUnsent(ctx context.Context, st switchboard.Store, since time.Time, sim *twiliosim.Simulator, run string) ([]*switchboard.Message, error) {
	held := map[string]bool{}
	for _, m := range sim.Messages() {
		if chaosIndex(run, m.Body) >= 0 {
			held[m.Body] = true
		}
	}
	var out []*switchboard.Message
	f := switchboard.MessageFilter{CreatedAfter: &since, Limit: 500, Statuses: []switchboard.Status{
		switchboard.StatusFailed, switchboard.StatusUndelivered, switchboard.StatusExpired, switchboard.StatusBlocked, switchboard.StatusCanceled}}
	for {
		msgs, next, err := st.ListMessages(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if chaosIndex(run, m.Body) >= 0 && !held[m.Body] {
				out = append(out, m)
			}
		}
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

// countingProvider counts the dispatcher's provider calls.
type countingProvider struct {
	switchboard.Provider
	calls atomic.Int64
}

func (p *countingProvider) Send(ctx context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	p.calls.Add(1)
	return p.Provider.Send(ctx, req)
}

func (p *countingProvider) Fetch(ctx context.Context, sid string) (*switchboard.ProviderMessage, error) {
	p.calls.Add(1)
	return p.Provider.Fetch(ctx, sid)
}

func (p *countingProvider) Find(ctx context.Context, q switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	p.calls.Add(1)
	return p.Provider.Find(ctx, q)
}

// Outage runs the provider outage drill: a node in-process under a steady load sends to a
// simulator that, for Outage, first refuses connections and then answers 503. It reports the
// provider calls made during the outage (the circuit breaker holds them to its probes), checks
// that the API kept accepting and that nothing failed, then measures how the backlog drains when
// the provider returns and counts lost and duplicated messages at the simulator.
func Outage(ctx context.Context, cfg OutageConfig) (_ *OutageResult, err error) {
	cfg = cfg.withDefaults()
	simCfg := twiliosim.Config{
		AccountSID: "AC" + randomHex(16), AuthToken: randomHex(16), Numbers: []string{benchFrom},
		SendingDelay: 5 * time.Millisecond, SentDelay: 5 * time.Millisecond, DeliveredDelay: 10 * time.Millisecond,
	}
	ps := &outageSim{sim: twiliosim.New(simCfg), addr: "127.0.0.1:0"}
	defer ps.sim.Close()
	if err := ps.listen(); err != nil {
		return nil, err
	}
	defer ps.refuse()

	cp := &countingProvider{}
	circuit := &circuitWatch{}
	n, err := startNode(ctx, cfg.Config, nodeSetup{
		yaml: fmt.Sprintf("senders:\n  - from: %q\n    kind: short_code\n    rate: %d\n    burst: %d\n", benchFrom, cfg.SenderRate, max(1, cfg.SenderRate/10)),
		env: map[string]string{
			"SWITCHBOARD_PROVIDER": config.ProviderTwilio, "SWITCHBOARD_TWILIO_BASE_URL": "http://" + ps.addr,
			"TWILIO_ACCOUNT_SID": simCfg.AccountSID, "TWILIO_AUTH_TOKEN": simCfg.AuthToken, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
			"SWITCHBOARD_PROVIDER_TIMEOUT": "2s", "SWITCHBOARD_LEASE": "10s", "SWITCHBOARD_RECONCILE_DELAY": "1s",
			"SWITCHBOARD_STATUS_POLL_AFTER": "5s", "SWITCHBOARD_CONCURRENCY": strconv.Itoa(cfg.Concurrency),
		},
		dispatch: func(dc *dispatch.Config) {
			cp.Provider = dc.Provider
			dc.Provider = cp
			dc.Breaker = cfg.Breaker
			circuit.Observer = dc.Observer
			dc.Observer = circuit
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	n.openGate()

	res := &OutageResult{Bench: "outage", Database: n.engine, Cores: runtime.NumCPU(), OutageS: cfg.Outage.Seconds(),
		RatePerS: cfg.Rate, SenderRate: cfg.SenderRate}
	run := newRunID()
	runStart := time.Now().UTC().Add(-time.Second)
	ld := &chaosLoad{url: n.URL() + "/v1/messages", secret: n.secret, run: run, http: newClient(cfg.Concurrency)}
	defer ld.http.CloseIdleConnections()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var loadWG sync.WaitGroup
	loadWG.Add(1)
	go func() { defer loadWG.Done(); ld.offer(loadCtx, cfg.Rate, cfg.Concurrency) }()

	// Normal operation.
	cfg.progress("outage: %s of normal operation at %d msg/s (sender %d/s)", cfg.Before, cfg.Rate, cfg.SenderRate)
	c0 := cp.calls.Load()
	sleepCtx(ctx, cfg.Before)
	res.CallsBeforePerS = float64(cp.calls.Load()-c0) / cfg.Before.Seconds()

	// The outage: refused, then 503.
	refusedFor := cfg.Outage / 2
	res.RefusedS, res.Status503S = refusedFor.Seconds(), (cfg.Outage - refusedFor).Seconds()
	cfg.progress("outage: the provider refuses connections for %s, then answers 503 for %s", refusedFor, cfg.Outage-refusedFor)
	acceptedAtOutage := ld.acceptedCount()
	outageStart := time.Now()
	callsAtOutage := cp.calls.Load()
	ps.mode.Store(providerRefused)
	ps.refuse()
	var openedAt time.Time
	var callsAtOpen int64
	watch := func(until time.Time) {
		for time.Now().Before(until) && ctx.Err() == nil {
			if openedAt.IsZero() && circuit.state() != dispatch.CircuitClosed {
				openedAt, callsAtOpen = time.Now(), cp.calls.Load()
			}
			sleepCtx(ctx, 5*time.Millisecond)
		}
	}
	watch(outageStart.Add(refusedFor))
	ps.mode.Store(providerUnavailable)
	if err := ps.listen(); err != nil {
		return res, err
	}
	watch(outageStart.Add(cfg.Outage))
	callsAtEnd := cp.calls.Load()
	stopLoad()
	loadWG.Wait()
	// Still down: nothing of the run may have ended (failed, expired...) that did not reach the
	// simulator, and what it lacks is the backlog.
	accepted := ld.acceptedMessages()
	waiting := notHeld(ps.sim, run, accepted)
	res.Backlog = int64(len(waiting))
	ended, err := endedUnsent(ctx, n.Store(), runStart, ps.sim, run)
	if err != nil {
		return res, err
	}
	res.EndedDuringOutage = int64(len(ended))
	for _, m := range ended[:min(len(ended), 10)] {
		res.Notes = append(res.Notes, fmt.Sprintf("%s ended %s during the outage: %s", m.ID, m.Status, m.ErrorMessage))
	}
	outageEnd := time.Now()
	ps.mode.Store(providerUp)
	res.AcceptedDuringOutage = int64(ld.acceptedCount() - acceptedAtOutage)
	res.CallsOutage = callsAtEnd - callsAtOutage
	res.CallsOutagePerS = float64(res.CallsOutage) / outageEnd.Sub(outageStart).Seconds()
	res.Requests503 = ps.n503.Load()
	res.Requests503PerS = float64(res.Requests503) / (cfg.Outage - refusedFor).Seconds()
	if !openedAt.IsZero() {
		res.OpenAfterS = openedAt.Sub(outageStart).Seconds()
		res.CallsToOpen = callsAtOpen - callsAtOutage
		res.CallsWhileOpen = callsAtEnd - callsAtOpen
		res.CallsWhileOpenPerS = float64(res.CallsWhileOpen) / outageEnd.Sub(openedAt).Seconds()
	} else {
		res.Notes = append(res.Notes, "the circuit never opened")
	}

	// Recovery: the backlog drains at the sender's rate once a probe closes the circuit.
	cfg.progress("outage: the provider is back; draining a backlog of %d messages", res.Backlog)
	var closedAt time.Time
	type point struct {
		at   time.Time
		held int
	}
	var points []point
	for ctx.Err() == nil && time.Since(outageEnd) < cfg.DrainTimeout {
		if closedAt.IsZero() && circuit.state() == dispatch.CircuitClosed {
			closedAt = time.Now()
		}
		left := len(notHeld(ps.sim, run, accepted))
		points = append(points, point{time.Now(), len(accepted) - left})
		if left == 0 {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	drainEnd := time.Now()
	res.DrainS = drainEnd.Sub(outageEnd).Seconds()
	if !closedAt.IsZero() {
		res.ClosedAfterS = closedAt.Sub(outageEnd).Seconds()
		// The rate after the circuit closed, past the sender's burst: the first point one
		// second after closing to the end.
		var from *point
		for i := range points {
			if points[i].at.After(closedAt.Add(time.Second)) {
				from = &points[i]
				break
			}
		}
		last := points[len(points)-1]
		if from != nil && last.at.Sub(from.at) > time.Second {
			res.DrainRatePerS = float64(last.held-from.held) / last.at.Sub(from.at).Seconds()
			res.DrainRatio = res.DrainRatePerS / float64(cfg.SenderRate)
		} else {
			res.Notes = append(res.Notes, "the backlog drained within a second of the circuit closing: too small to measure its rate")
		}
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !simSettled(ps.sim, run); {
		sleepCtx(ctx, 50*time.Millisecond)
	}

	// Count at the simulator.
	held := map[int64]int{}
	for _, m := range ps.sim.Messages() {
		if i := chaosIndex(run, m.Body); i >= 0 {
			held[i]++
			if held[i] == 1 && (m.Status == "delivered" || m.Status == "read") {
				if _, ok := accepted[i]; ok {
					res.Delivered++
				}
			}
		}
	}
	res.Offered, res.Accepted = ld.offered.Load(), int64(len(accepted))
	res.AcceptFailures = res.Offered - res.Accepted
	for i := range accepted {
		switch {
		case held[i] == 0:
			res.Lost++
		case held[i] > 1:
			res.Sent++
			res.Duplicated++
		default:
			res.Sent++
		}
	}
	evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{
		Types: []switchboard.AppEventType{switchboard.AppProviderCircuitOpened, switchboard.AppProviderCircuitClosed}, Limit: 100})
	if err != nil {
		return res, err
	}
	for _, e := range evs {
		res.CircuitEvents = append(res.CircuitEvents, string(e.Type))
	}
	if la, ok := loadAvg(); ok {
		res.LoadAvg1m = la
	} else {
		res.LoadAvg1m = -1
	}
	res.Check = fmt.Sprintf("%d accepted (%d during the outage, %d refused): %d at the simulator, %d lost, %d duplicated, %d ended during the outage; "+
		"%d provider calls while the circuit was open (%.2f/s)", res.Accepted, res.AcceptedDuringOutage, res.AcceptFailures, res.Sent, res.Lost,
		res.Duplicated, res.EndedDuringOutage, res.CallsWhileOpen, res.CallsWhileOpenPerS)
	// Bounded: at most one probe per MinOpen after the circuit opened.
	minOpen := cfg.Breaker.MinOpen
	if minOpen <= 0 {
		minOpen = time.Second
	}
	probeBound := int64(outageEnd.Sub(openedAt)/minOpen) + 1
	res.Verified = res.Lost == 0 && res.Duplicated == 0 && res.EndedDuringOutage == 0 && res.AcceptFailures == 0 &&
		!openedAt.IsZero() && !closedAt.IsZero() && res.CallsWhileOpen <= probeBound+int64(cfg.Concurrency) && res.AcceptedDuringOutage > 0 &&
		len(res.CircuitEvents) >= 2 && res.CircuitEvents[0] == string(switchboard.AppProviderCircuitOpened) &&
		res.CircuitEvents[len(res.CircuitEvents)-1] == string(switchboard.AppProviderCircuitClosed)
	if !res.Verified {
		res.Check = "FAILED: " + res.Check
	}
	return res, nil
}
