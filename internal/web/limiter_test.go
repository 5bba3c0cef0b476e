package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/clientaddr"
)

// TestLoginLimiterNeverLocksOut attacks the login limiter the way that turned it into a lockout:
// many failures from one address (every user behind a reverse proxy) must not keep the right
// password out for long nor touch API keys, and backoff grows exponentially for the guesser.
func TestLoginLimiterNeverLocksOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // LoginRate 3, max delay 1 min
	c := e.client()
	wrong := url.Values{"user": {testUser}, "password": {"wrong password!"}}
	for range 3 { // free failures
		if r := e.login(c, wrong); r.status != http.StatusUnauthorized {
			t.Fatalf("free failure: %d", r.status)
		}
	}
	// Failures of other names from the same address and wrong API keys count nothing for the
	// user.
	for range 20 {
		e.login(c, url.Values{"user": {"admin"}, "password": {"guess"}})
		e.login(c, url.Values{"api_key": {"sb_guess"}})
	}
	// The 4th failure of the user: 1 s backoff, then 2 s, 4 s… never over a minute.
	var waits []int
	for range 10 {
		r := e.login(c, wrong)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failure after waiting: %d", r.status)
		}
		r = e.login(c, wrong)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("attempt during backoff: %d", r.status)
		}
		ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
		waits = append(waits, ra)
		e.clock.add(time.Duration(ra) * time.Second)
	}
	want := []int{1, 2, 4, 8, 16, 32, 60, 60, 60, 60}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("backoff %v, want %v", waits, want)
		}
	}
	// Now, in the middle of a backoff: an API key logs in at once from the same address.
	e.login(c, wrong)
	if r := e.login(e.client(), url.Values{"api_key": {e.secret}}); r.status != http.StatusSeeOther {
		t.Fatalf("API key during a password backoff: %d", r.status)
	}
	// The right password waits at most a minute, then works and clears the failures.
	r := e.login(c, url.Values{"user": {testUser}, "password": {testPassword}})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("right password during backoff: %d", r.status)
	}
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra > 60 {
		t.Fatalf("the right password is kept out %d s", ra)
	}
	e.clock.add(time.Minute)
	if r := e.login(c, url.Values{"user": {testUser}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("right password after the wait: %d", r.status)
	}
	if r := e.login(e.client(), wrong); r.status != http.StatusUnauthorized {
		t.Fatalf("failures not cleared by the success: %d", r.status)
	}
}

// TestLoginLimiterTrustedProxy: behind a trusted proxy each client address has its own backoff;
// a forged X-Forwarded-For from an untrusted peer changes nothing.
func TestLoginLimiterTrustedProxy(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{true, false} {
		e := newEnv(t, func(c *Config) {
			if trusted {
				c.ClientAddr = clientaddr.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
			}
		})
		wrong := url.Values{"user": {testUser}, "password": {"wrong password!"}}
		attacker := e.clientWithHeader("X-Forwarded-For", "198.51.100.66")
		for range 5 {
			e.login(attacker, wrong)
		}
		if r := e.login(attacker, wrong); r.status != http.StatusTooManyRequests {
			t.Fatalf("trusted=%v: the attacker is not throttled: %d", trusted, r.status)
		}
		user := e.clientWithHeader("X-Forwarded-For", "203.0.113.10")
		r := e.login(user, url.Values{"user": {testUser}, "password": {testPassword}})
		if trusted && r.status != http.StatusSeeOther {
			t.Fatalf("another client behind the trusted proxy: %d", r.status)
		}
		if !trusted && r.status != http.StatusTooManyRequests {
			t.Fatalf("untrusted peer: the forged header was believed: %d", r.status)
		}
	}
}

// clientWithHeader returns a client (own cookies, no redirects) that sends header k: v on every
// request, as a reverse proxy in front of the dashboard would.
func (e *env) clientWithHeader(k, v string) *http.Client {
	c := e.client()
	c.Transport = headerTransport{k: k, v: v}
	return c
}

type headerTransport struct{ k, v string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return http.DefaultTransport.RoundTrip(r)
}
