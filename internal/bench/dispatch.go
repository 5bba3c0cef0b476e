package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// dispatchYAML configures one unlimited sender, so that the dispatcher's own speed is measured
// rather than a rate limit.
const dispatchYAML = `senders:
  - from: "` + benchFrom + `"
    kind: short_code
    rate: -1
`

// timedProvider times the dispatcher's calls to the provider.
type timedProvider struct {
	switchboard.Provider
	mu       sync.Mutex
	hist     Histogram
	errs     int64
	firstErr string
	// track, when set, counts the accepted sends and the distinct bodies among them (by a
	// 64-bit hash, 8 bytes a message), for a bench whose simulator does not keep every message.
	track  bool
	sent   int64
	bodies map[uint64]struct{}
}

// Send times one call.
func (t *timedProvider) Send(ctx context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	t0 := time.Now()
	pm, err := t.Provider.Send(ctx, req)
	d := time.Since(t0)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs++
		if t.firstErr == "" {
			t.firstErr = err.Error()
		}
	} else {
		t.hist.Record(d)
		if t.track {
			if t.bodies == nil {
				t.bodies = map[uint64]struct{}{}
			}
			h := fnv.New64a()
			h.Write([]byte(req.Body))
			t.sent++
			t.bodies[h.Sum64()] = struct{}{}
		}
	}
	return pm, err
}

// handedOnce reports how many sends the provider accepted and how many distinct bodies they
// carried (t.track must be set).
func (t *timedProvider) handedOnce() (sent, distinct int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent, int64(len(t.bodies))
}

// Dispatch measures the dispatcher: a backlog of queued messages for one unlimited sender is
// enqueued directly in the store (the raw store insert ceiling), then the dispatcher starts and
// the messages it hands to the simulator per second are counted at the simulator until the
// backlog is gone. It runs twice: with the simulator's lifecycle and its status callbacks to the
// node (each message then costs three callbacks more), and without callbacks. Besides the two
// ceilings it measures the provider's raw send rate: the same twilio-go client calling the
// simulator directly, with no store.
func Dispatch(ctx context.Context, cfg Config) ([]*Result, error) {
	cfg = cfg.withDefaults()
	with, shared, err := dispatchRun(ctx, cfg, true, nil)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return []*Result{with}, err
	}
	c := cfg
	if cfg.CPUProfile != "" {
		ext := filepath.Ext(cfg.CPUProfile)
		c.CPUProfile = strings.TrimSuffix(cfg.CPUProfile, ext) + "-no-callbacks" + ext
	}
	without, _, err := dispatchRun(ctx, c, false, shared)
	if err != nil {
		return []*Result{with}, err
	}
	return []*Result{with, without}, nil
}

func dispatchRun(ctx context.Context, cfg Config, callbacks bool, shared []Ceiling) (_ *Result, _ []Ceiling, err error) {
	name := "dispatch"
	if !callbacks {
		name = "dispatch-no-callbacks"
	}
	tp := &timedProvider{}
	n, err := startNode(ctx, cfg, nodeSetup{
		yaml: dispatchYAML,
		env:  map[string]string{"SWITCHBOARD_CONCURRENCY": strconv.Itoa(cfg.Concurrency)},
		dispatch: func(dc *dispatch.Config) {
			tp.Provider = dc.Provider
			dc.Provider = tp
			if !callbacks {
				dc.CallbackURL = nil
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	if err := refuseDueWork(ctx, n.Store()); err != nil {
		return nil, nil, err
	}
	sim := n.Simulator()
	res := newResult(name, cfg, n.engine)
	res.LatencyOf = "the dispatcher's provider call: twilio-go to the simulator over loopback"

	if shared == nil {
		client := newClient(cfg.Concurrency)
		defer client.CloseIdleConnections()
		cfg.progress("%s: empty handler ceiling (%s, %d clients)", name, cfg.Duration, cfg.Concurrency)
		auth := "Basic " + strings.Repeat("A", 90)
		hp, err := emptyHandlerPhase(ctx, cfg, client, func(i int64) ([]byte, http.Header) {
			body := "Body=" + strings.ReplaceAll(messageBody("ceiling", i), " ", "+") + "&From=%2B15005550006&To=" +
				strings.TrimPrefix(recipient(i), "+") + "&StatusCallback=http%3A%2F%2F127.0.0.1%3A8080%2Fwebhooks%2Ftwilio%2Fstatus%3Fm%3Dmsg_0190b6f2"
			return []byte(body), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {auth}}
		})
		if err != nil {
			return nil, nil, err
		}
		cfg.progress("%s: provider raw send ceiling (%s)", name, cfg.Duration)
		pp, err := providerSend(ctx, cfg, sim)
		if err != nil {
			return nil, nil, err
		}
		shared = []Ceiling{
			ceilingOf(CeilingEmptyHandler, "an empty handler", hp),
			ceilingOf(CeilingProviderSend, "the provider's raw send (no store, no callbacks)", pp),
		}
	}

	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	run := newRunID()
	total := int64(cfg.Messages)
	cfg.progress("%s: enqueueing %d messages (raw store insert ceiling)", name, total)
	sp := storeInsert(ctx, n.Store(), cfg, run, n.rawKeyID, total, 24*time.Hour, nil)
	if sp.ops != total {
		return nil, nil, fmt.Errorf("enqueued %d of %d messages: %s", sp.ops, total, sp.firstErr)
	}
	res.Ceilings = append([]Ceiling{ceilingOf(CeilingStoreInsert, "the raw store insert", sp)}, shared...)

	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	base := int64(sim.Stats().Messages)
	limit := 3*cfg.Duration + 30*time.Second
	cfg.progress("%s: dispatching %d messages (at most %s)", name, total, limit)
	p := &phase{}
	u, err := measure(cfg.CPUProfile, func() {
		start := time.Now()
		deadline := start.Add(limit)
		n.openGate()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for p.ops < total && time.Now().Before(deadline) && ctx.Err() == nil {
			<-tick.C
			p.ops = int64(sim.Stats().Messages) - base
		}
		p.elapsed = time.Since(start)
	})
	if err != nil {
		return nil, nil, err
	}
	tp.mu.Lock()
	p.hist.Merge(&tp.hist)
	p.errors, p.firstErr = tp.errs, tp.firstErr
	tp.mu.Unlock()
	res.finish(p, u)
	if p.ops < total {
		res.Notes = append(res.Notes, fmt.Sprintf("stopped after %s with %d of %d messages handed over", limit, p.ops, total))
	}
	st := sim.Stats()
	if callbacks {
		res.Notes = append(res.Notes, fmt.Sprintf("simulator lifecycle %s/%s/%s to delivered, status callbacks to the node on (%d answered 2xx by the end, %d failed attempts)",
			twiliosim.DefaultSendingDelay, twiliosim.DefaultSentDelay, twiliosim.DefaultDeliveredDelay, st.CallbacksDelivered, st.CallbackAttemptsFailed))
	} else {
		res.Notes = append(res.Notes, "no status callbacks (messages carry no StatusCallback URL)")
	}

	// Let the dispatcher finish its calls in flight before counting what the simulator holds.
	if err := n.close(); err != nil {
		return nil, nil, err
	}
	res.Check, res.Verified = verifyHandedOnce(sim, run, p.ops == total, total)
	return res, shared, nil
}

// providerSend is the provider ceiling: twilio-go's message create against the node's simulator,
// served on a listener of its own, from the same number of workers, with no store involved.
func providerSend(ctx context.Context, cfg Config, sim *twiliosim.Simulator) (*phase, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	prov, err := twilio.New(twilio.Config{
		AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: "http://" + ln.Addr().String(),
		Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	return closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		_, err := prov.Send(ctx, &switchboard.SendRequest{
			MessageID: "msg_ceiling", To: recipient(i), From: benchFrom, Body: messageBody("ceiling", i),
		})
		return err
	}), nil
}

// verifyHandedOnce checks at the simulator that no message of the run was handed over twice and,
// when the backlog drained, that every one was.
func verifyHandedOnce(sim *twiliosim.Simulator, run string, drained bool, total int64) (string, bool) {
	prefix := "Job #" + run + "-"
	seen := map[string]bool{}
	var count int64
	for _, m := range sim.Messages() {
		if !strings.HasPrefix(m.Body, prefix) {
			continue
		}
		count++
		seen[m.Body] = true
	}
	check := fmt.Sprintf("the simulator holds %d of the %d messages, %d distinct", count, total, len(seen))
	if int64(len(seen)) != count || count > total || (drained && count != total) {
		return "FAILED: " + check, false
	}
	return check, true
}
