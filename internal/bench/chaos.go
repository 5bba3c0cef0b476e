package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// ChaosConfig says how to run the chaos soak.
type ChaosConfig struct {
	Config
	// Binary is the switchboard executable the nodes run (default: this executable).
	Binary string
	// Kills is how many times a serving process is killed with SIGKILL (default 20).
	Kills int
	// Nodes is the number of serve processes: 1 on SQLite, up to any on PostgreSQL (default 1).
	Nodes int
	// Rate is the messages per second offered to the API (default 100).
	Rate int
	// Faults are the simulator's faults during the run (default DefaultChaosFaults).
	Faults *twiliosim.Faults
	// DrainTimeout bounds the wait, after the load, for every accepted message to end
	// (default 10 minutes).
	DrainTimeout time.Duration
	// KeepLogs, when set, names a file the nodes' output is copied to when the check fails.
	KeepLogs string
}

// DefaultChaosFaults are the simulator's faults during a chaos soak: throttling, server errors
// before and after creating the message, answers that come after the client gave up, and status
// callbacks duplicated, shuffled and dropped.
var DefaultChaosFaults = twiliosim.Faults{
	Status429Ratio: 0.05, Status500Ratio: 0.03, TimeoutRatio: 0.02, TimeoutMS: 1500,
	CallbackDuplicates: 1, CallbackShuffle: true, CallbackDropRatio: 0.1,
}

// ChaosResult is what a chaos soak counted. Every message count is counted at the simulator, which
// runs in the bench's process and outlives the kills; Switchboard's own records are used only to
// tell a message that ended in a failure it was entitled to from a lost one.
type ChaosResult struct {
	Bench     string  `json:"bench"`
	Database  string  `json:"database"`
	Nodes     int     `json:"nodes"`
	Cores     int     `json:"cores"`
	DurationS float64 `json:"duration_s"` // as configured
	// LoadS is how long the load and the kills lasted; DrainS the time after it until every
	// accepted message had ended.
	LoadS  float64 `json:"load_s"`
	DrainS float64 `json:"drain_s"`
	// Kills is how many SIGKILLs were delivered; RestartMS the time from a kill to the node
	// answering /readyz again (p50, max).
	Kills        int              `json:"kills"`
	RestartP50MS float64          `json:"restart_p50_ms"`
	RestartMaxMS float64          `json:"restart_max_ms"`
	RatePerS     int              `json:"offered_rate_per_s"`
	Faults       twiliosim.Faults `json:"faults"`
	// Offered messages were sent to the API; Accepted were answered 2xx (after retries with the
	// same idempotency key across kills); Unconfirmed never were by the end (not counted as lost:
	// the API never said it had them). APIRetries counts requests retried (502 during a kill,
	// connection reset...).
	Offered     int64 `json:"offered"`
	Accepted    int64 `json:"accepted"`
	Unconfirmed int64 `json:"unconfirmed"`
	APIRetries  int64 `json:"api_retries"`
	// Sent is the accepted messages the simulator holds (once or more); Delivered those it holds
	// as delivered; FailedAtProvider those it holds as failed or undelivered.
	Sent             int64 `json:"sent"`
	Delivered        int64 `json:"delivered"`
	FailedAtProvider int64 `json:"failed_at_provider"`
	// FailedEntitled ended in a failure they were entitled to without reaching the simulator (a
	// permanent provider refusal); Lost were accepted and neither reached the simulator nor ended
	// so; Duplicated reached the simulator more than once.
	FailedEntitled int64 `json:"failed_entitled"`
	Lost           int64 `json:"lost"`
	Duplicated     int64 `json:"duplicated"`
	// Pending were accepted and had neither reached the simulator nor ended when the drain
	// timed out: the nodes had not caught up. The check fails, but they are not lost.
	Pending int64 `json:"pending"`
	// CircuitOpens counts the times a node's circuit breaker to the provider opened (from the
	// nodes' logs): the faults rarely make five calls in a row fail, an overloaded machine
	// (answers slower than the provider timeout) does.
	CircuitOpens int `json:"circuit_opens"`
	// DispatchRatePerS is the rate the simulator received the run's messages at, first to last.
	DispatchRatePerS float64 `json:"dispatch_rate_per_s"`
	// IdempotencyMismatches counts retries of one idempotency key answered with another message.
	IdempotencyMismatches int64 `json:"idempotency_mismatches"`
	// ProviderRequests counts message creations the simulator answered (429, 500, timeouts
	// included) and Stats its callback figures.
	SimStats  twiliosim.Stats `json:"simulator"`
	LoadAvg1m float64         `json:"load_avg_1m"`
	Verified  bool            `json:"verified"`
	Check     string          `json:"check"`
	Examples  []string        `json:"examples,omitempty"`
	Notes     []string        `json:"notes,omitempty"`
}

func (c ChaosConfig) withDefaults() (ChaosConfig, error) {
	c.Config = c.Config.withDefaults()
	if c.Kills < 0 {
		return c, fmt.Errorf("--kills must not be negative")
	}
	if c.Nodes <= 0 {
		c.Nodes = 1
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.Faults == nil {
		f := DefaultChaosFaults
		c.Faults = &f
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Minute
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("finding the switchboard executable: %w", err)
		}
		c.Binary = exe
	}
	return c, nil
}

// chaosYAML configures the one sender: fast enough for the offered rate, with a small burst.
func chaosYAML(rate int) string {
	return fmt.Sprintf("senders:\n  - from: %q\n    kind: short_code\n    rate: %d\n    burst: 20\n", benchFrom, max(50, 2*rate))
}

// chaosBody is the text of message i of run: unique, so the simulator's copy names the message.
func chaosBody(run string, i int64) string {
	return "Chaos #" + run + "-" + strconv.FormatInt(i, 10) + ": your technician is on the way"
}

// chaosIndex returns i of a chaosBody of run, or -1.
func chaosIndex(run, body string) int64 {
	rest, ok := strings.CutPrefix(body, "Chaos #"+run+"-")
	if !ok {
		return -1
	}
	num, _, _ := strings.Cut(rest, ":")
	i, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return -1
	}
	return i
}

// Chaos runs the chaos soak: a steady load of messages offered through a load balancer to
// `switchboard serve` processes that send to a simulator with faults on, while a process is
// killed with SIGKILL and restarted every Duration/(Kills+1). Then it waits for every accepted
// message to end and counts, at the simulator, what was sent, delivered, lost and duplicated.
func Chaos(ctx context.Context, cfg ChaosConfig) (_ *ChaosResult, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cl, err := startCluster(ctx, clusterSetup{
		binary: cfg.Binary, databaseURL: cfg.DatabaseURL, nodes: cfg.Nodes, yaml: chaosYAML(cfg.Rate), progress: cfg.progress,
		env: map[string]string{
			"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_PROVIDER_TIMEOUT": "1s", "SWITCHBOARD_RECONCILE_DELAY": "300ms",
			"SWITCHBOARD_STATUS_POLL_AFTER": "3s", "SWITCHBOARD_CONCURRENCY": strconv.Itoa(cfg.Concurrency),
		},
		sim: twiliosim.Config{Numbers: []string{benchFrom}, SendingDelay: 5 * time.Millisecond, SentDelay: 5 * time.Millisecond,
			DeliveredDelay: 10 * time.Millisecond},
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, cl.close()) }()
	cl.sim.SetFaults(*cfg.Faults)

	res := &ChaosResult{
		Bench: "chaos", Database: cl.engine, Nodes: cfg.Nodes, Cores: runtime.NumCPU(), DurationS: cfg.Duration.Seconds(),
		RatePerS: cfg.Rate, Faults: *cfg.Faults,
	}
	run := newRunID()
	ld := &chaosLoad{url: cl.lb.URL() + "/v1/messages", secret: cl.secret, run: run, http: newClient(cfg.Concurrency)}
	defer ld.http.CloseIdleConnections()

	// The load: Rate messages a second, each retried with its idempotency key until accepted.
	cfg.progress("chaos: %d node(s) on %s, %d msg/s for %s, %d kills", cfg.Nodes, cl.engine, cfg.Rate, cfg.Duration, cfg.Kills)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var loadWG sync.WaitGroup
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		ld.offer(loadCtx, cfg.Rate, cfg.Concurrency)
	}()

	// The kills, evenly spread; a node killed is restarted at once on the same address and data.
	start := time.Now()
	interval := cfg.Duration / time.Duration(cfg.Kills+1)
	var restarts []time.Duration
	for k := range cfg.Kills {
		if !sleepCtx(ctx, time.Until(start.Add(time.Duration(k+1)*interval))) {
			break
		}
		n := cl.nodes[k%len(cl.nodes)]
		t0 := time.Now()
		n.Kill()
		res.Kills++
		if err := cl.start(ctx, n); err != nil {
			stopLoad()
			loadWG.Wait()
			return res, fmt.Errorf("restarting after kill %d: %w\n%s", k+1, err, cl.nodeLog(4000))
		}
		restarts = append(restarts, time.Since(t0))
		cfg.progress("chaos: kill %d/%d of node %d, ready again after %s (%d accepted so far)", k+1, cfg.Kills, k%len(cl.nodes),
			time.Since(t0).Round(time.Millisecond), ld.acceptedCount())
	}
	sleepCtx(ctx, time.Until(start.Add(cfg.Duration)))
	stopLoad()
	loadWG.Wait() // requests in flight are retried until answered (bounded)
	res.LoadS = time.Since(start).Seconds()
	if len(restarts) > 0 {
		sort.Slice(restarts, func(i, j int) bool { return restarts[i] < restarts[j] })
		res.RestartP50MS = float64(restarts[len(restarts)/2]) / float64(time.Millisecond)
		res.RestartMaxMS = float64(restarts[len(restarts)-1]) / float64(time.Millisecond)
	}

	// Drain: wait until every accepted message has reached the simulator or ended at Switchboard.
	api := client.New(cl.lb.URL(), cl.secret)
	accepted := ld.acceptedMessages()
	cfg.progress("chaos: load over (%d accepted); waiting for every message to end (at most %s)", len(accepted), cfg.DrainTimeout)
	drainStart := time.Now()
	var missing map[int64]*switchboard.Message
	lastHeld, stalledSince, lastProgress := -1, time.Now(), time.Now()
	for {
		waiting := notHeld(cl.sim, run, accepted)
		if time.Since(lastProgress) > 10*time.Second {
			cfg.progress("chaos: %d messages not at the simulator yet", len(waiting))
			lastProgress = time.Now()
		}
		if len(waiting) != lastHeld {
			lastHeld, stalledSince = len(waiting), time.Now()
		}
		timedOut := time.Since(drainStart) > cfg.DrainTimeout || ctx.Err() != nil
		// Ask Switchboard about the messages the simulator lacks only when few are left or
		// none has arrived for a while (the others are on their way).
		if len(waiting) <= 100 || time.Since(stalledSince) > 5*time.Second || timedOut {
			var pending int
			_, pending, err = chaosStatuses(ctx, api, accepted, waiting) // the last reading is taken after the loop
			if err != nil {
				return res, err
			}
			if pending == 0 || timedOut {
				break
			}
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	res.DrainS = time.Since(drainStart).Seconds()
	// The simulator finishes the lifecycles of the last messages within milliseconds.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !simSettled(cl.sim, run); {
		sleepCtx(ctx, 50*time.Millisecond)
	}

	// The messages the simulator lacks now, as Switchboard sees them.
	missing, _, err = chaosStatuses(ctx, api, accepted, notHeld(cl.sim, run, accepted))
	if err != nil {
		return res, err
	}

	// Count at the simulator.
	held := map[int64]int{}
	var first, last time.Time
	for _, m := range cl.sim.Messages() {
		i := chaosIndex(run, m.Body)
		if i < 0 {
			continue
		}
		if first.IsZero() || m.DateCreated.Before(first) {
			first = m.DateCreated
		}
		if m.DateCreated.After(last) {
			last = m.DateCreated
		}
		held[i]++
		if held[i] > 1 {
			continue
		}
		if _, ok := accepted[i]; !ok {
			continue
		}
		switch m.Status {
		case "delivered", "read":
			res.Delivered++
		case "failed", "undelivered":
			res.FailedAtProvider++
		}
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		res.DispatchRatePerS = float64(len(held)) / span
	}
	res.Offered, res.Accepted, res.APIRetries = ld.offered.Load(), int64(len(accepted)), ld.retries.Load()
	res.Unconfirmed = res.Offered - res.Accepted
	res.IdempotencyMismatches = ld.mismatches.Load()
	for i := range accepted {
		switch n := held[i]; {
		case n == 1:
			res.Sent++
		case n > 1:
			res.Sent++
			res.Duplicated++
			res.Examples = append(res.Examples, fmt.Sprintf("duplicated: %s (%d provider messages)", accepted[i], n))
		}
	}
	for i, m := range missing {
		if entitledFailure(m) {
			res.FailedEntitled++
			continue
		}
		if !m.Status.Terminal() {
			// Still queued or on its way when the drain stopped: not lost, not yet sent either.
			res.Pending++
			continue
		}
		res.Lost++
		status := "unknown"
		if m != nil {
			status = fmt.Sprintf("%s %d %s", m.Status, m.ErrorCode, m.ErrorMessage)
		}
		if len(res.Examples) < 20 {
			res.Examples = append(res.Examples, fmt.Sprintf("lost: %s (%s)", accepted[i], status))
		}
	}
	for i, n := range held {
		if _, ok := accepted[i]; !ok && n > 1 {
			res.Duplicated++ // a request never confirmed, yet sent twice
		}
	}
	res.SimStats = cl.sim.Stats()
	res.CircuitOpens = strings.Count(cl.nodeLog(1<<30), "provider circuit opened")
	if la, ok := loadAvg(); ok {
		res.LoadAvg1m = la
	} else {
		res.LoadAvg1m = -1
	}
	res.Check = fmt.Sprintf("%d accepted: %d at the simulator (%d delivered), %d failed as entitled, %d lost, %d duplicated, %d still pending; %d kills",
		res.Accepted, res.Sent, res.Delivered, res.FailedEntitled, res.Lost, res.Duplicated, res.Pending, res.Kills)
	res.Verified = res.Lost == 0 && res.Duplicated == 0 && res.Pending == 0 && res.IdempotencyMismatches == 0 && res.Kills == cfg.Kills && res.Accepted > 0
	if !res.Verified {
		res.Check = "FAILED: " + res.Check
	}
	if res.Unconfirmed > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d requests were never answered 2xx by the end of the run (not counted as accepted)", res.Unconfirmed))
	}
	if res.Pending > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the drain stopped after %s with %d messages still queued or on their way (not lost; raise --drain-timeout or lower --rate: the nodes did not keep up)", cfg.DrainTimeout, res.Pending))
	}
	if !res.Verified && cfg.KeepLogs != "" {
		if err := os.WriteFile(cfg.KeepLogs, []byte(cl.nodeLog(64<<20)), 0o600); err == nil {
			res.Notes = append(res.Notes, "the nodes' output is in "+cfg.KeepLogs)
		}
	}
	return res, nil
}

// entitledFailure reports whether m ended in a failure the faults of the run could not cause: a
// permanent refusal (a 4xx code other than 20429) or an expiry or block by policy. Timeouts,
// 429s, 5xx and kills must never end a message.
func entitledFailure(m *switchboard.Message) bool {
	if m == nil || !m.Status.Terminal() {
		return false
	}
	switch m.Status {
	case switchboard.StatusBlocked:
		return true
	case switchboard.StatusFailed, switchboard.StatusUndelivered:
		return m.ErrorCode != 0 && m.ErrorCode != 20429 && m.ErrorCode != 20500
	}
	return false
}

// simSettled reports whether every message of run at the simulator has a final status.
func simSettled(sim *twiliosim.Simulator, run string) bool {
	for _, m := range sim.Messages() {
		if chaosIndex(run, m.Body) < 0 {
			continue
		}
		switch m.Status {
		case "delivered", "read", "failed", "undelivered", "canceled":
		default:
			return false
		}
	}
	return true
}

// notHeld returns the accepted messages the simulator does not hold.
func notHeld(sim *twiliosim.Simulator, run string, accepted map[int64]string) []int64 {
	held := map[int64]bool{}
	for _, m := range sim.Messages() {
		if i := chaosIndex(run, m.Body); i >= 0 {
			held[i] = true
		}
	}
	var out []int64
	for i := range accepted {
		if !held[i] {
			out = append(out, i)
		}
	}
	return out
}

// chaosStatuses reads Switchboard's view of the messages the simulator lacks; pending counts
// those that have not ended (still on their way).
func chaosStatuses(ctx context.Context, api *client.Client, accepted map[int64]string, waiting []int64) (map[int64]*switchboard.Message, int, error) {
	missing := map[int64]*switchboard.Message{}
	pending := 0
	for _, i := range waiting {
		id := accepted[i]
		var m *switchboard.Message
		var err error
		for range 20 {
			if m, err = api.Get(ctx, id); err == nil {
				break
			}
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return nil, 0, ctx.Err()
			}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading message %s: %w", id, err)
		}
		missing[i] = m
		if !m.Status.Terminal() {
			pending++
		}
	}
	return missing, pending, nil
}

// chaosLoad offers messages to the API.
type chaosLoad struct {
	url, secret, run string
	http             *http.Client
	offered          atomic.Int64
	retries          atomic.Int64
	mismatches       atomic.Int64

	mu       sync.Mutex
	accepted map[int64]string
}

func (l *chaosLoad) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

func (l *chaosLoad) acceptedMessages() map[int64]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64]string, len(l.accepted))
	for k, v := range l.accepted {
		out[k] = v
	}
	return out
}

// offer starts rate messages a second until ctx ends, at most concurrency at once, and returns
// when every started one has been answered (or given up on, after a minute of retries).
func (l *chaosLoad) offer(ctx context.Context, rate, concurrency int) {
	l.accepted = map[int64]string{}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := int64(0); ; i++ {
		if !sleepCtx(ctx, time.Until(start.Add(time.Duration(i)*time.Second/time.Duration(rate)))) {
			return
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		l.offered.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l.send(i)
		}()
	}
}

// send posts message i until it is accepted, retrying with the same idempotency key.
func (l *chaosLoad) send(i int64) {
	body, _ := json.Marshal(map[string]any{"to": recipient(i), "body": chaosBody(l.run, i)})
	key := "chaos-" + l.run + "-" + strconv.FormatInt(i, 10)
	deadline := time.Now().Add(time.Minute)
	for try := 0; time.Now().Before(deadline); try++ {
		if try > 0 {
			l.retries.Add(1)
			time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		id, status, err := l.post(ctx, body, key)
		cancel()
		if err != nil || status/100 != 2 {
			continue
		}
		if try > 0 {
			// An earlier try may have been accepted unseen (a timeout): replaying the key must
			// name the same message.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			again, status, err := l.post(ctx, body, key)
			cancel()
			if err == nil && status/100 == 2 && again != id {
				l.mismatches.Add(1)
			}
		}
		l.mu.Lock()
		l.accepted[i] = id
		l.mu.Unlock()
		return
	}
}

func (l *chaosLoad) post(ctx context.Context, body []byte, key string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.secret)
	req.Header.Set("Idempotency-Key", key)
	resp, err := l.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return "", resp.StatusCode, nil
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
		return "", 0, errors.New("accepted without a message id")
	}
	return m.ID, resp.StatusCode, nil
}

// sleepCtx sleeps d or until ctx ends, and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
