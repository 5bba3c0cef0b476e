// Package bench measures a Switchboard node against the quality bars: how many messages it
// accepts per second through POST /v1/messages (accept), how many signed status callbacks it
// ingests (webhooks), and how many queued messages it hands to the provider (dispatch).
//
// Each bench boots the real node in-process on 127.0.0.1:0 with the real store (a fresh SQLite
// file unless told otherwise; on PostgreSQL, a fresh schema of the given database) and the
// built-in simulator, drives it with a closed loop of concurrent clients for a duration, and
// reports throughput, client-observed latency percentiles, the process's CPU time and peak RSS. In the same run and with the same client it
// measures the ceilings the figure lives under — the store's raw insert rate (CreateMessage
// called directly, no HTTP) and the rate of an empty handler on an http.Server configured like
// the node's — and reports the figure as a fraction of each, so that it says how close it is to
// what this machine can do at all.
//
// The load generator runs in the same process as the node: the CPU figures are the whole
// process's, and on a small machine the clients take a share of the cores the server would
// otherwise have. The empty-handler ceiling pays the same client cost, which is what makes the
// ratio to it fair.
//
// Nothing leaves the machine: the node's settings come from the bench only (never from the
// environment) and its provider is the in-process simulator on loopback.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Names are the benches Run knows, in the order All runs them.
var Names = []string{"accept", "webhooks", "dispatch", "twiml"}

// Config says how to run a bench.
type Config struct {
	// Duration is how long the measured phase, and each ceiling, runs (default 10 s).
	Duration time.Duration
	// Concurrency is the number of concurrent clients (for dispatch: the dispatcher's provider
	// calls in flight, SWITCHBOARD_CONCURRENCY) (default 64).
	Concurrency int
	// DatabaseURL is the store: "" for a fresh SQLite file in a temporary directory, sqlite:PATH
	// (or a bare path), or postgres://... On PostgreSQL every node runs in a fresh schema of that
	// database (switchboard_bench_ and random hex), dropped when the node closes.
	DatabaseURL string
	// Messages is the backlog the dispatch bench enqueues (default 5,000 per second of Duration,
	// the dispatch bar).
	Messages int
	// Backlog is how many messages the backlog bench queues (default DefaultBacklog).
	Backlog int
	// CPUProfile, when set, names the file a CPU profile of the measured phase is written to.
	// With several benches the bench's name is added before the extension; dispatch adds
	// -no-callbacks for its second run.
	CPUProfile string
	// Logger receives the node's logs (default: discarded).
	Logger *slog.Logger
	// Progress, when set, receives a line as each phase starts.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Messages <= 0 {
		c.Messages = max(200, int(5000*c.Duration.Seconds()))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// profileFor returns the CPU profile file of one bench when several run.
func (c Config) profileFor(bench string) string {
	if c.CPUProfile == "" {
		return ""
	}
	ext := filepath.Ext(c.CPUProfile)
	return strings.TrimSuffix(c.CPUProfile, ext) + "-" + bench + ext
}

// Result is every figure of one bench. Rates are per second, latencies in milliseconds.
type Result struct {
	Bench       string  `json:"bench"`
	Database    string  `json:"database"` // the store's engine: sqlite or postgres
	Concurrency int     `json:"concurrency"`
	Cores       int     `json:"cores"`
	DurationS   float64 `json:"duration_s"` // as configured
	ElapsedS    float64 `json:"elapsed_s"`  // of the measured phase
	// Ops are the successful operations of the measured phase (accepted messages, callbacks
	// answered 2xx, messages handed to the simulator); Errors the failed ones.
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	OpsPerSec  float64 `json:"ops_per_s"`
	// LatencyOf says what the latencies time.
	LatencyOf string  `json:"latency_of"`
	Latency   Latency `json:"latency"`
	// CPUS is the process's user+system CPU time over the measured phase (server and in-process
	// clients), CPUPercent the same as a share of elapsed time × cores.
	CPUS       float64 `json:"cpu_s"`
	CPUPercent float64 `json:"cpu_percent"`
	// PeakRSSBytes is the peak resident set size; PeakRSSScope is "phase" when the kernel's
	// peak was reset before the measured phase, "process" when it covers the whole run.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	PeakRSSScope string `json:"peak_rss_scope"`
	// LoadAvg1m is the machine's one-minute load average at the end of the measured phase (-1
	// when unknown): above Cores, other processes were competing for the CPU and the figures
	// are low.
	LoadAvg1m float64   `json:"load_avg_1m"`
	Ceilings  []Ceiling `json:"ceilings"`
	// Backlog holds the backlog bench's own figures (nil for the others).
	Backlog *BacklogFigures `json:"backlog,omitempty"`
	// Rates holds the rate bench's figures, one per sender.
	Rates []SenderRate `json:"rates,omitempty"`
	// Verified reports the end-of-run check described by Check (messages delivered, none
	// handed over twice...).
	Verified bool     `json:"verified"`
	Check    string   `json:"check"`
	Notes    []string `json:"notes,omitempty"`
}

// Latency holds percentiles of a latency distribution, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func latencyOf(h *Histogram) Latency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

// Ceiling is one limit a bench's figure is compared with, measured in the same run.
type Ceiling struct {
	// Name is store_insert, empty_handler, store_ingest or provider_send.
	Name string `json:"name"`
	// What describes it in a sentence's words ("the raw store insert").
	What      string  `json:"what"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	ElapsedS  float64 `json:"elapsed_s"`
	OpsPerSec float64 `json:"ops_per_s"`
	Latency   Latency `json:"latency"`
	// Ratio is the bench's ops/s divided by the ceiling's.
	Ratio float64 `json:"ratio"`
}

// Ceiling names.
const (
	CeilingStoreInsert  = "store_insert"
	CeilingEmptyHandler = "empty_handler"
	CeilingStoreIngest  = "store_ingest"
	CeilingProviderSend = "provider_send"
)

func ceilingOf(name, what string, p *phase) Ceiling {
	return Ceiling{
		Name: name, What: what, Ops: p.ops, Errors: p.errors, ElapsedS: p.elapsed.Seconds(),
		OpsPerSec: p.opsPerSec(), Latency: latencyOf(&p.hist),
	}
}

// newResult starts a result with the run's settings.
func newResult(bench string, cfg Config, engine string) *Result {
	return &Result{
		Bench: bench, Database: engine, Concurrency: cfg.Concurrency, Cores: runtime.NumCPU(),
		DurationS: cfg.Duration.Seconds(),
	}
}

// finish fills in the measured phase's figures and the ratios to the ceilings.
func (r *Result) finish(p *phase, u usage) {
	r.Ops, r.Errors, r.FirstError = p.ops, p.errors, p.firstErr
	r.ElapsedS = p.elapsed.Seconds()
	r.OpsPerSec = p.opsPerSec()
	r.Latency = latencyOf(&p.hist)
	if u.cpuKnown {
		r.CPUS = u.cpu.Seconds()
		if u.wall > 0 {
			r.CPUPercent = 100 * u.cpu.Seconds() / (u.wall.Seconds() * float64(r.Cores))
		}
	}
	r.PeakRSSBytes = u.peakRSS
	r.LoadAvg1m = u.loadAvg
	r.PeakRSSScope = "process"
	if u.rssPhase {
		r.PeakRSSScope = "phase"
	}
	for i := range r.Ceilings {
		if c := r.Ceilings[i].OpsPerSec; c > 0 {
			r.Ceilings[i].Ratio = r.OpsPerSec / c
		}
	}
	if p.errors > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d operations failed; the first: %s", p.errors, p.firstErr))
	}
}

// Run runs the bench called name ("accept", "webhooks", "dispatch" or "all") and returns its
// results: one per bench, and two for dispatch (with and without status callbacks).
func Run(ctx context.Context, name string, cfg Config) ([]*Result, error) {
	cfg = cfg.withDefaults()
	switch name {
	case "accept":
		r, err := Accept(ctx, cfg)
		return []*Result{r}, err
	case "webhooks":
		r, err := Webhooks(ctx, cfg)
		return []*Result{r}, err
	case "dispatch":
		return Dispatch(ctx, cfg)
	case "twiml":
		r, err := TwiML(ctx, cfg)
		return []*Result{r}, err
	case "all":
		return All(ctx, cfg)
	case "backlog":
		r, err := Backlog(ctx, cfg)
		return []*Result{r}, err
	case "rate":
		r, err := Rate(ctx, cfg)
		return []*Result{r}, err
	}
	return nil, fmt.Errorf("unknown bench %q (accept, webhooks, dispatch, backlog, rate, twiml or all)", name)
}

// All runs every bench in turn. With a SQLite file of the user's (--database PATH), dispatch runs
// first: it needs a database without waiting messages, which the others leave behind. (On
// PostgreSQL every node has a fresh schema, so the order does not matter there.)
func All(ctx context.Context, cfg Config) ([]*Result, error) {
	cfg = cfg.withDefaults()
	order := Names
	if cfg.DatabaseURL != "" {
		order = []string{"dispatch", "accept", "webhooks", "twiml"}
	}
	byName := map[string][]*Result{}
	for _, name := range order {
		c := cfg
		c.CPUProfile = cfg.profileFor(name)
		rs, err := Run(ctx, name, c)
		if err != nil {
			return flatten(byName), fmt.Errorf("%s: %w", name, err)
		}
		byName[name] = rs
	}
	return flatten(byName), nil
}

func flatten(byName map[string][]*Result) []*Result {
	var out []*Result
	for _, name := range Names {
		out = append(out, byName[name]...)
	}
	return out
}
