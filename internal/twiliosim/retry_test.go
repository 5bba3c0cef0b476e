package twiliosim_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// Twilio's webhook connection defaults and overrides (its "Webhooks connection overrides"
// page): one retry by default, only for a failed connection (rp=ct); "#rc=" sets the count,
// "#rp=" which failures are retried, "#rt=" the read timeout, "#ct=" the connect timeout.
func TestCallbackRetryPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 4})
	rcv := newReceiver(t, e.sim)
	rcv.answer = func(int, *http.Request) int { return http.StatusInternalServerError }

	posts := func(fragment string) int {
		t.Helper()
		// Every status's callback ends abandoned (the receiver always fails): wait for the three
		// (sending, sent, delivered), then count the posts.
		before := e.sim.Stats().CallbacksAbandoned
		sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", rcv.srv.URL+"/s"+fragment)
		eventually(t, 5*time.Second, "three abandoned callbacks", func() bool { return e.sim.Stats().CallbacksAbandoned == before+3 })
		return len(rcv.forSID(sid)) / 3
	}
	for _, tc := range []struct {
		fragment string
		want     int
	}{
		{"", 1},                // a 500 is not retried by default (rp=ct)
		{"#rp=4xx", 1},         // nor when only 4xx is
		{"#rp=5xx", 2},         // one retry by default
		{"#rp=all&rc=3", 4},    // rc sets the count
		{"#rp=5xx&rc=9", 6},    // at most 5 retries
		{"#rp=5xx,rt&rc=0", 1}, // rc=0: none
	} {
		if got := posts(tc.fragment); got != tc.want {
			t.Errorf("%q: %d posts per status, want %d", tc.fragment, got, tc.want)
		}
	}
}

// A connection that cannot be made is retried once by default; "#rc=" sets the count.
func TestCallbackRetryOnConnect(t *testing.T) {
	t.Parallel()
	var dials atomic.Int64
	client := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("connection refused (simulated)")
	}}}
	e := newEnv(t, twiliosim.Config{HTTPClient: client, CallbackWorkers: 1})
	for _, tc := range []struct {
		fragment string
		want     int64
	}{{"", 2}, {"#rc=3", 4}, {"#rp=5xx", 1}} {
		dials.Store(0)
		before := e.sim.Stats().CallbacksAbandoned
		createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", "http://127.0.0.1:9/s"+tc.fragment)
		eventually(t, 5*time.Second, "three abandoned callbacks", func() bool { return e.sim.Stats().CallbacksAbandoned == before+3 })
		if got := dials.Load(); got != 3*tc.want {
			t.Errorf("%q: %d connection attempts, want %d", tc.fragment, got, 3*tc.want)
		}
	}
}

// "#rt=" bounds the wait for an answer; with rp=rt a slow answer is retried.
func TestCallbackReadTimeoutOverride(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 4})
	rcv := newReceiver(t, e.sim)
	rcv.answer = func(n int, r *http.Request) int {
		if r.PostForm.Get("MessageStatus") == "sending" && n < 10 {
			<-r.Context().Done() // hangs until the simulator gives up
		}
		return http.StatusOK
	}
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", rcv.srv.URL+"/s#rt=100&rp=rt")
	eventually(t, 5*time.Second, "the sending callback retried", func() bool {
		var n int
		for _, r := range rcv.forSID(sid) {
			if r.Params.Get("MessageStatus") == "sending" {
				n++
			}
		}
		return n == 2
	})
}

// "#ct=" bounds the wait for a connection: a callback URL that never accepts is given up after
// ct (default 5 s), and retried once by default (rp=ct).
func TestCallbackConnectTimeoutOverride(t *testing.T) {
	t.Parallel()
	var dials atomic.Int64
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dials.Add(1)
		<-ctx.Done() // a host that never answers the SYN
		return nil, ctx.Err()
	}}}
	e := newEnv(t, twiliosim.Config{HTTPClient: client, CallbackWorkers: 4})
	createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", "http://127.0.0.1:9/s#ct=200")
	// With the default 5 s connect timeout the three callbacks and their retries would take
	// ten seconds at least.
	eventually(t, 4*time.Second, "three abandoned callbacks", func() bool { return e.sim.Stats().CallbacksAbandoned == 3 })
	if got := dials.Load(); got != 6 {
		t.Errorf("%d connection attempts, want 6 (one retry of each)", got)
	}
}

// "#tt=" bounds all attempts of one callback together: retries that would start after it are
// not made.
func TestCallbackTotalTimeoutOverride(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 4})
	rcv := newReceiver(t, e.sim)
	rcv.answer = func(_ int, r *http.Request) int {
		if r.PostForm.Get("MessageStatus") == "sending" {
			<-r.Context().Done() // hangs until the simulator gives up
		}
		return http.StatusOK
	}
	sendings := func(sid string) int {
		n := 0
		for _, r := range rcv.forSID(sid) {
			if r.Params.Get("MessageStatus") == "sending" {
				n++
			}
		}
		return n
	}
	// Without tt (15 s), five retries of 200 ms each fit: six attempts.
	all := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", rcv.srv.URL+"/s#rt=200&rp=rt&rc=5")
	// With tt=500: the first attempt (200 ms), a pause, a second one cut at 200 ms; a third would
	// start after 500 ms.
	cut := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "y", rcv.srv.URL+"/s#rt=200&tt=500&rp=rt&rc=5")
	eventually(t, 10*time.Second, "six attempts without tt", func() bool { return sendings(all) == 6 })
	eventually(t, 5*time.Second, "the attempts within tt to end", func() bool { return e.sim.Stats().CallbacksAbandoned == 2 })
	if n := sendings(cut); n < 1 || n > 2 {
		t.Errorf("%d attempts within tt=500 of 200 ms each, want at most 2", n)
	}
}
