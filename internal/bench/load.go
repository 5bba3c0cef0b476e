package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// errExhausted ends a load worker without counting an error: the work it draws from is used up.
var errExhausted = errors.New("bench: work exhausted")

// phase is what one closed-loop run measured.
type phase struct {
	ops, errors int64
	firstErr    string
	elapsed     time.Duration
	hist        Histogram
	// exhausted is true when the work ran out before the time did.
	exhausted bool
}

func (p *phase) opsPerSec() float64 {
	if p.elapsed <= 0 {
		return 0
	}
	return float64(p.ops) / p.elapsed.Seconds()
}

// closedLoop runs op from concurrency workers, each starting its next call as soon as the last
// returns, until d has passed, ctx ends or op returns errExhausted. Calls in flight when the time
// is up finish and count; elapsed runs until the last of them returns. Only successful calls
// are timed.
func closedLoop(ctx context.Context, concurrency int, d time.Duration, op func(ctx context.Context, worker int) error) *phase {
	var (
		ops, errs atomic.Int64
		exhausted atomic.Bool
		mu        sync.Mutex
		p         = &phase{}
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Go(func() {
			var h Histogram
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := op(ctx, w)
				if errors.Is(err, errExhausted) {
					exhausted.Store(true)
					break
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						p.firstErr = err.Error()
						mu.Unlock()
					}
					continue
				}
				h.Record(time.Since(t0))
				ops.Add(1)
			}
			mu.Lock()
			p.hist.Merge(&h)
			mu.Unlock()
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	p.ops, p.errors, p.exhausted = ops.Load(), errs.Load(), exhausted.Load()
	return p
}

// usage is the process's resource use over one measured phase.
type usage struct {
	cpu      time.Duration
	cpuKnown bool
	wall     time.Duration
	peakRSS  int64
	// rssPhase is true when the peak covers this phase only (the kernel's peak was reset).
	rssPhase bool
	// loadAvg is the machine's one-minute load average at the end, -1 when unknown.
	loadAvg float64
}

// measure runs fn as the measured phase: after a garbage collection, with the peak RSS reset
// and, when profile names a file, under the CPU profiler.
func measure(profile string, fn func()) (usage, error) {
	runtime.GC()
	var u usage
	u.rssPhase = resetPeakRSS()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return u, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return u, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	c0, ok0 := cpuTime()
	t0 := time.Now()
	fn()
	u.wall = time.Since(t0)
	c1, ok1 := cpuTime()
	u.cpu, u.cpuKnown = c1-c0, ok0 && ok1
	u.peakRSS = peakRSS()
	u.loadAvg = -1
	if l, ok := loadAvg(); ok {
		u.loadAvg = l
	}
	return u, nil
}

// newClient returns the HTTP client every bench drives its server and its empty-handler ceiling
// with: keep-alive connections, one per worker, no proxy (everything is on loopback).
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          2 * concurrency,
			MaxIdleConnsPerHost:   2 * concurrency,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends one POST and reads the whole answer, so the connection is reused. A status other
// than want is an error quoting the start of the answer.
func post(ctx context.Context, c *http.Client, url string, body []byte, want int, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want && !(want == anyStatus2xx && resp.StatusCode/100 == 2) {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("POST %s: %s: %s", req.URL.Path, resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// anyStatus2xx makes post accept any 2xx answer.
const anyStatus2xx = -2

// emptyServer serves a handler that reads the request body and answers 204, on an http.Server
// with the node's settings (internal/node: read-header, read, write and idle timeouts): the
// ceiling of any handler on this machine with this client.
type emptyServer struct {
	srv *http.Server
	url string
}

func startEmptyServer() (*emptyServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = srv.Serve(ln) }()
	return &emptyServer{srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (s *emptyServer) close() { _ = s.srv.Close() }
