package twilio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestRewriteTransport(t *testing.T) {
	t.Parallel()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		base, in, wantPath, wantQuery string
	}{
		{srv.URL, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B1&Page=2",
			"/2010-04-01/Accounts/AC1/Messages.json", "To=%2B1&Page=2"},
		{srv.URL + "/twilio/", "https://verify.twilio.com/v2/Services", "/twilio/v2/Services", ""},
	} {
		base, err := url.Parse(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: &RewriteTransport{Base: base}}
		req, err := http.NewRequest(http.MethodGet, tc.in, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s via %s: %v", tc.in, tc.base, err)
		}
		resp.Body.Close()
		if got.URL.Path != tc.wantPath || got.URL.RawQuery != tc.wantQuery || got.Host != base.Host {
			t.Errorf("%s: server saw host %q path %q query %q", tc.in, got.Host, got.URL.Path, got.URL.RawQuery)
		}
		if req.URL.Host != "api.twilio.com" && req.URL.Host != "verify.twilio.com" {
			t.Errorf("the caller's request was modified: %s", req.URL)
		}
	}
}

// TestClockOffsetFromDate: the Date header of Twilio's answers gives Twilio's clock offset,
// within a second, whatever this node's clock says.
func TestClockOffsetFromDate(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"messages": []any{}})
	})
	ahead := func() time.Time { return time.Now().UTC().Add(5 * time.Minute) }
	p, _ := newTestProvider(t, f.URL, func(c *Config) { c.Clock = ahead })
	if _, ok := p.ClockOffset(); ok {
		t.Fatal("an offset before any answer")
	}
	if _, err := p.Find(context.Background(), switchboard.FindQuery{To: testTo, From: testFrom}); err != nil {
		t.Fatal(err)
	}
	off, ok := p.ClockOffset()
	if !ok || (off+5*time.Minute).Abs() > 1500*time.Millisecond {
		t.Fatalf("offset %s (seen %v), want about -5m", off, ok)
	}
}
