package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// DefaultBacklog is how many messages the backlog bench queues unless told otherwise: the
// memory bar's 1,000,000.
const DefaultBacklog = 1_000_000

// claimSamples is how many claims each claim-cost measurement times.
const claimSamples = 200

// claimSmall is the queue depth of the first claim-cost measurement.
const claimSmall = 1_000

// backlogSimKeep is how many messages the backlog bench's simulator keeps.
const backlogSimKeep = 2_000

// BacklogFigures are the backlog bench's own figures.
type BacklogFigures struct {
	// Queued is the number of messages queued before the measured phase.
	Queued int64 `json:"queued"`
	// FillS is how long queueing them took (through the store's CreateMessage, as the API does).
	FillS float64 `json:"fill_s"`
	// RSSAfterFillBytes is the process's resident set right after the fill, before the dispatcher
	// starts, with the backlog queued and nothing collected by hand.
	RSSAfterFillBytes int64 `json:"rss_after_fill_bytes"`
	// ClaimSmall and ClaimLarge time ClaimMessages of a batch of ClaimBatch messages of one
	// sender with ClaimSmallQueued and Queued messages queued: the claim's cost must not depend
	// on the depth of the queue.
	ClaimBatch       int     `json:"claim_batch"`
	ClaimSmallQueued int64   `json:"claim_small_queued"`
	ClaimSmall       Latency `json:"claim_small"`
	ClaimLarge       Latency `json:"claim_large"`
}

// Backlog measures the memory and claim bars: it queues cfg.Backlog messages (default 1,000,000)
// for one unlimited sender through the store, timing a claim at 1,000 queued and again with the
// whole backlog queued, then lets the dispatcher send from the backlog (status callbacks on) for
// cfg.Duration, measuring the process's peak RSS over that phase. The figure is the dispatch rate
// with the backlog behind it. The process holds everything a serving node holds (the HTTP
// servers, the dispatcher, the event worker, the store's connections and caches) plus the
// in-process simulator, whose record of the messages it was handed counts against the figure.
func Backlog(ctx context.Context, cfg Config) (_ *Result, err error) {
	cfg = cfg.withDefaults()
	total := int64(cfg.Backlog)
	if total <= 0 {
		total = DefaultBacklog
	}
	tp := &timedProvider{track: true}
	n, err := startNode(ctx, cfg, nodeSetup{
		yaml: dispatchYAML,
		env:  map[string]string{"SWITCHBOARD_CONCURRENCY": strconv.Itoa(cfg.Concurrency)},
		dispatch: func(dc *dispatch.Config) {
			tp.Provider = dc.Provider
			dc.Provider = tp
		},
		// The simulator shares the process, and so the resident set being measured: by default
		// it keeps every message it is handed (200 MiB after 50,000 here), which would be
		// counted against the node. It keeps the latest backlogSimKeep instead, far more than
		// are in their 200 ms lifecycle at once; sends are counted, and duplicates found, at
		// the provider wrapper.
		sim: func(sc *twiliosim.Config) { sc.MaxMessages = backlogSimKeep },
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	if err := refuseDueWork(ctx, n.Store()); err != nil {
		return nil, err
	}
	res := newResult("backlog", cfg, n.engine)
	res.LatencyOf = "the dispatcher's provider call, with the backlog queued"
	fig := &BacklogFigures{Queued: total, ClaimBatch: 100, ClaimSmallQueued: min(claimSmall, total)}
	res.Backlog = fig

	run := newRunID()
	fillStart := time.Now()
	cfg.progress("backlog: queueing %d messages, then timing %d claims", fig.ClaimSmallQueued, claimSamples)
	sp := storeInsert(ctx, n.Store(), cfg, run, n.rawKeyID, fig.ClaimSmallQueued, 24*time.Hour, nil)
	if sp.ops != fig.ClaimSmallQueued {
		return nil, fmt.Errorf("queued %d of %d messages: %s", sp.ops, fig.ClaimSmallQueued, sp.firstErr)
	}
	if fig.ClaimSmall, err = claimCost(ctx, n.Store(), fig.ClaimBatch); err != nil {
		return nil, err
	}
	cfg.progress("backlog: queueing %d messages more (the raw store insert)", total-fig.ClaimSmallQueued)
	// A run tag of its own keeps the bodies and idempotency keys distinct from the first
	// messages', under the same "Job #<run>-" prefix that verifyHandedOnce looks for.
	sp = storeInsert(ctx, n.Store(), cfg, run+"-x", n.rawKeyID, total-fig.ClaimSmallQueued, 24*time.Hour, nil)
	if fig.ClaimSmallQueued+sp.ops != total {
		return nil, fmt.Errorf("queued %d of %d messages: %s", fig.ClaimSmallQueued+sp.ops, total, sp.firstErr)
	}
	fig.FillS = time.Since(fillStart).Seconds()
	res.Ceilings = []Ceiling{ceilingOf(CeilingStoreInsert, "the raw store insert", sp)}
	cfg.progress("backlog: timing %d claims with %d queued", claimSamples, total)
	if fig.ClaimLarge, err = claimCost(ctx, n.Store(), fig.ClaimBatch); err != nil {
		return nil, err
	}
	fig.RSSAfterFillBytes = currentRSS()

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("backlog: dispatching from the backlog (%s)", cfg.Duration)
	p := &phase{}
	u, err := measure(cfg.CPUProfile, func() {
		start := time.Now()
		n.openGate()
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		p.ops, _ = tp.handedOnce()
		p.elapsed = time.Since(start)
	})
	if err != nil {
		return nil, err
	}
	tp.mu.Lock()
	p.hist.Merge(&tp.hist)
	p.errors, p.firstErr = tp.errs, tp.firstErr
	tp.mu.Unlock()
	res.finish(p, u)
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d messages queued in %.0fs; resident set %s right after, before the dispatcher started",
			total, fig.FillS, mebibytes(fig.RSSAfterFillBytes)),
		fmt.Sprintf("claim of %d: p50 %s p99 %s with %d queued; p50 %s p99 %s with %d queued",
			fig.ClaimBatch, millis(fig.ClaimSmall.P50), millis(fig.ClaimSmall.P99), fig.ClaimSmallQueued,
			millis(fig.ClaimLarge.P50), millis(fig.ClaimLarge.P99), total),
		fmt.Sprintf("peak rss is the measured phase's: the dispatcher sending from the backlog, status callbacks on, "+
			"the in-process simulator keeping its latest %d messages", backlogSimKeep))
	if err := n.close(); err != nil {
		return nil, err
	}
	sent, distinct := tp.handedOnce()
	res.Check = fmt.Sprintf("the provider accepted %d sends of the %d messages, %d distinct", sent, total, distinct)
	res.Verified = sent == distinct && sent <= total
	if !res.Verified {
		res.Check = "FAILED: " + res.Check
	}
	return res, nil
}

// claimCost times claimSamples claims of batch messages of the bench's sender by an owner of its
// own, each released before the next (the dispatcher is held at its gate meanwhile).
func claimCost(ctx context.Context, st switchboard.Store, batch int) (Latency, error) {
	var h Histogram
	for range claimSamples {
		now := time.Now().UTC()
		t0 := time.Now()
		msgs, err := st.ClaimMessages(ctx, switchboard.ClaimParams{
			From: benchFrom, Owner: "bench-claim", Now: now, LeaseUntil: now.Add(time.Minute), Limit: batch,
		})
		if err != nil {
			return Latency{}, fmt.Errorf("claim: %w", err)
		}
		h.Record(time.Since(t0))
		if len(msgs) == 0 {
			return Latency{}, errors.New("claim: no message claimed")
		}
		if _, err := st.ReleaseLeases(ctx, "bench-claim"); err != nil {
			return Latency{}, fmt.Errorf("release: %w", err)
		}
	}
	return latencyOf(&h), nil
}

// currentRSS returns the process's resident set size in bytes (Linux: VmRSS of
// /proc/self/status), 0 when unknown.
func currentRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		if f := bytes.Fields(rest); len(f) >= 1 {
			if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
