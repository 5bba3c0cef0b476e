package twilio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
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
