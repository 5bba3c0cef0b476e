package clientaddr_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/clientaddr"
)

func TestClient(t *testing.T) {
	t.Parallel()
	rs := clientaddr.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	for _, c := range []struct {
		name, remote string
		hdr          map[string]string
		want         string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"forged header from an untrusted peer", "203.0.113.7:5555", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "203.0.113.7"},
		{"through a trusted proxy", "10.0.0.2:443", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"},
		{"client forged the left part", "10.0.0.2:443", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.2:443", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"all trusted", "10.0.0.2:443", map[string]string{"X-Forwarded-For": "10.1.1.1, 10.0.0.9"}, "10.1.1.1"},
		{"garbage hop", "10.0.0.2:443", map[string]string{"X-Forwarded-For": "1.2.3.4, nonsense"}, "10.0.0.2"},
		{"trusted proxy, no header", "10.0.0.2:443", nil, "10.0.0.2"},
		{"forwarded", "10.0.0.2:443", map[string]string{"Forwarded": `for=1.2.3.4, for="[2001:db8::1]:4711";proto=https`}, "2001:db8::1"},
		{"forwarded wins over xff", "10.0.0.2:443", map[string]string{"Forwarded": "for=198.51.100.9", "X-Forwarded-For": "1.2.3.4"}, "198.51.100.9"},
		{"forwarded unknown", "10.0.0.2:443", map[string]string{"Forwarded": "for=unknown"}, "10.0.0.2"},
		{"ipv6 peer trusted", "[fd00::1]:443", map[string]string{"X-Forwarded-For": "2001:db8::2"}, "2001:db8::2"},
		{"mapped v4", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		{"unreadable peer", "pipe", nil, ""},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := rs.String(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// No trusted proxies: headers never count.
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr, _ = "10.0.0.2:443", r.Header
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := (clientaddr.Resolver{}).String(r); got != "10.0.0.2" {
		t.Fatalf("untrusted: %q", got)
	}
}

// FuzzClient: whatever headers say, the answer is the peer or an address one of them names, and
// a peer that is not trusted is always the answer.
func FuzzClient(f *testing.F) {
	f.Add("10.0.0.2:443", "1.2.3.4, 198.51.100.1", `for=1.2.3.4;proto=http, for="[::1]:80"`)
	f.Add("203.0.113.7:1", "x", "for=")
	f.Add("[fd00::1]:1", ",,,", `for="`)
	rs := clientaddr.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["Forwarded"] = []string{fwd}
		got := rs.Client(r)
		peer := (clientaddr.Resolver{}).Client(r)
		if peer.IsValid() && !(netip.MustParsePrefix("10.0.0.0/8").Contains(peer) || netip.MustParsePrefix("fd00::/8").Contains(peer)) && got != peer {
			t.Fatalf("untrusted peer %v, got %v", peer, got)
		}
	})
}
