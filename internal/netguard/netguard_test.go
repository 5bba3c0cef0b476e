package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCheck: every address form of the IANA special-purpose registries is refused, the IPv6
// forms that embed an IPv4 address are judged by it, and public unicast passes.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ip     string
		public bool
		reason string
	}{
		{"8.8.8.8", true, ""},
		{"93.184.216.34", true, ""},
		{"1.1.1.1", true, ""},
		{"192.31.196.1", true, ""},    // AS112, globally reachable
		{"192.175.48.1", true, ""},    // direct delegation AS112
		{"192.52.193.1", true, ""},    // AMT
		{"100.128.0.1", true, ""},     // just past 100.64.0.0/10
		{"172.32.0.1", true, ""},      // just past 172.16.0.0/12
		{"198.20.0.1", true, ""},      // just past 198.18.0.0/15
		{"223.255.255.255", true, ""}, // just below multicast
		{"2606:4700:4700::1111", true, ""},
		{"2a00:1450:4001::1", true, ""},
		{"2620:4f:8000::1", true, ""}, // AS112 direct delegation v6
		{"0.0.0.0", false, "this network"},
		{"0.1.2.3", false, "this network"},
		{"10.0.0.1", false, "private"},
		{"100.64.0.1", false, "shared"},
		{"127.0.0.1", false, "loopback"},
		{"127.255.255.254", false, "loopback"},
		{"169.254.169.254", false, "link-local"}, // cloud metadata
		{"172.16.5.4", false, "private"},
		{"192.0.0.1", false, "IETF protocol"},
		{"192.0.0.170", false, "IETF protocol"},
		{"192.0.2.10", false, "documentation"},
		{"192.88.99.1", false, "6to4 relay"},
		{"192.168.1.1", false, "private"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking"},
		{"198.51.100.7", false, "documentation"},
		{"203.0.113.9", false, "documentation"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"240.0.0.1", false, "reserved"},
		{"254.1.2.3", false, "reserved"},
		{"255.255.255.255", false, "broadcast"},
		{"::", false, "unspecified"},
		{"::1", false, "loopback"},
		{"::127.0.0.1", false, "IPv4-compatible"},
		{"::7f00:1", false, "IPv4-compatible"},
		{"::8.8.8.8", false, "IPv4-compatible"}, // deprecated whatever it embeds
		{"::ffff:127.0.0.1", false, "IPv4-mapped form of 127.0.0.1"},
		{"::ffff:10.1.1.1", false, "IPv4-mapped form of 10.1.1.1"},
		{"::ffff:8.8.8.8", true, ""},
		{"64:ff9b::7f00:1", false, "NAT64 form of 127.0.0.1"},
		{"64:ff9b::a9fe:a9fe", false, "NAT64 form of 169.254.169.254"},
		{"64:ff9b::808:808", true, ""},
		{"64:ff9b:1::808:808", false, "local-use NAT64"},
		{"100::1", false, "discard"},
		{"2001::1", false, "Teredo"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "Teredo"},           // RFC 4380 example
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false, "client 127.0.0.1"}, // embeds ^127.0.0.1
		{"2001:2::1", false, "IETF protocol"},
		{"2001:db8::1", false, "documentation"},
		{"3fff::1", false, "documentation"},
		{"2002:a00:1::1", false, "6to4 form of 10.0.0.1"},
		{"2002:7f00:1::1", false, "6to4 form of 127.0.0.1"},
		{"2002:c0a8:101::1", false, "6to4 form of 192.168.1.1"},
		{"2002:808:808::1", true, ""},
		{"2a00:1450::5efe:7f00:1", false, "ISATAP form of 127.0.0.1"},
		{"2a00:1450::200:5efe:a00:1", false, "ISATAP form of 10.0.0.1"},
		{"2a00:1450::5efe:808:808", true, ""},
		{"fc00::1", false, "unique local"},
		{"fd12:3456::1", false, "unique local"},
		{"fe80::1", false, "link-local"},
		{"fe80::1%eth0", false, "link-local"},
		{"febf::1", false, "link-local"},
		{"fec0::1", false, "site-local"},
		{"feff::1", false, "site-local"},
		{"ff02::1", false, "multicast"},
		{"ff0e::1", false, "multicast"},
		{"4000::1", false, "outside the IPv6 global unicast"},
		{"5f00::1", false, "outside the IPv6 global unicast"},
		{"::2", false, "IPv4-compatible"},
		{"1::1", false, "outside the IPv6 global unicast"},
	} {
		err := Check(netip.MustParseAddr(c.ip))
		if (err == nil) != c.public {
			t.Errorf("Check(%s) = %v, want public=%v", c.ip, err, c.public)
			continue
		}
		if err != nil && (!errors.Is(err, ErrNotPublic) || !strings.Contains(err.Error(), c.reason)) {
			t.Errorf("Check(%s) = %q, want ErrNotPublic saying %q", c.ip, err, c.reason)
		}
	}
	if Check(netip.Addr{}) == nil {
		t.Error("the zero Addr passed")
	}
}

// fakeResolver answers from a map (no DNS in tests).
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var resolver = fakeResolver{
	"hooks.example.com":     {netip.MustParseAddr("93.184.216.34")},
	"rebind.example.com":    {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	"metadata.example.com":  {netip.MustParseAddr("169.254.169.254")},
	"teredo.example.com":    {netip.MustParseAddr("2001:0:4136:e378:8000:63bf:80ff:fffe")},
	"sixtofour.example.com": {netip.MustParseAddr("2002:a00:1::1")},
}

// TestCheckURL: every address form the issue lists, and the names and non-canonical forms that
// lead to them, are refused when a URL is registered.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		want error
	}{
		{"https://hooks.example.com/x", nil},
		{"https://93.184.216.34/hooks", nil},
		{"http://93.184.216.34:8080/hooks?x=1", nil},
		{"https://[2606:4700:4700::1111]/x", nil},
		{"ftp://93.184.216.34/", ErrInvalidURL},
		{"/relative", ErrInvalidURL},
		{"https://", ErrInvalidURL},
		{"https:opaque", ErrInvalidURL},
		{"https://user:pw@93.184.216.34/", ErrInvalidURL},
		{"https://93.184.216.34:0/", ErrInvalidURL},
		{"https://93.184.216.34:70000/", ErrInvalidURL},
		{"https://" + strings.Repeat("a", MaxURLBytes) + ".com/", ErrInvalidURL},
		{"http://2130706433/", ErrInvalidURL},      // 127.0.0.1 as one number
		{"http://0x7f.1/", ErrInvalidURL},          // hex
		{"http://0177.0.0.1/", ErrInvalidURL},      // octal
		{"http://127.1/", ErrInvalidURL},           // short form
		{"http://0x7f000001/", ErrInvalidURL},      // hex number
		{"http://example.com.123/", ErrInvalidURL}, // numeric TLD
		{"https://127.0.0.1/hooks", ErrNotPublic},
		{"https://[::1]:8443/hooks", ErrNotPublic},
		{"https://[::127.0.0.1]/", ErrNotPublic},
		{"https://[::7f00:1]/", ErrNotPublic},
		{"https://[::ffff:127.0.0.1]/", ErrNotPublic},
		{"https://[::ffff:7f00:1]/", ErrNotPublic},
		{"https://[fec0::1]/", ErrNotPublic},
		{"https://[fe80::1%25eth0]/", ErrNotPublic},
		{"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", ErrNotPublic}, // Teredo
		{"https://[2002:a00:1::1]/", ErrNotPublic},                        // 6to4 of 10.0.0.1
		{"https://[64:ff9b::a9fe:a9fe]/", ErrNotPublic},                   // NAT64 of metadata
		{"https://0.0.0.0/", ErrNotPublic},
		{"https://0.1.2.3/", ErrNotPublic},
		{"https://240.0.0.1/", ErrNotPublic},
		{"https://255.255.255.255/", ErrNotPublic},
		{"https://192.0.0.1/", ErrNotPublic},
		{"https://192.0.2.1/", ErrNotPublic},
		{"https://198.51.100.1/", ErrNotPublic},
		{"https://203.0.113.1/", ErrNotPublic},
		{"https://[2001:db8::1]/", ErrNotPublic},
		{"https://169.254.169.254/latest/meta-data", ErrNotPublic},
		{"https://localhost/hooks", ErrNotPublic},
		{"https://LOCALHOST./hooks", ErrNotPublic},
		{"https://api.localhost/hooks", ErrNotPublic},
		{"https://rebind.example.com/", ErrNotPublic}, // one bad answer is enough
		{"https://metadata.example.com/", ErrNotPublic},
		{"https://teredo.example.com/", ErrNotPublic},
		{"https://sixtofour.example.com/", ErrNotPublic},
		{"https://does-not-exist.invalid/hooks", ErrUnresolvable},
	} {
		_, err := CheckURL(ctx, c.url, Policy{Resolver: resolver})
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("CheckURL(%q) = %v, want %v", c.url, err, c.want)
		}
	}
	// Allowed private targets still need a well-formed URL, and are not resolved.
	for _, ok := range []string{"http://127.0.0.1:9/x", "http://localhost:8080/", "http://does-not-exist.invalid/"} {
		if _, err := CheckURL(ctx, ok, Policy{AllowPrivate: true, Resolver: resolver}); err != nil {
			t.Errorf("allowed private %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"gopher://x", "http://2130706433/"} {
		if _, err := CheckURL(ctx, bad, Policy{AllowPrivate: true}); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("allowed private %s: %v", bad, err)
		}
	}
}

// TestDialerRefusesAtConnect: a connection to a non-public address is refused when it is made,
// whatever the URL's check said before (DNS rebinding: the name may now point inside).
func TestDialerRefusesAtConnect(t *testing.T) {
	t.Parallel()
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	c := Client(ClientOptions{Timeout: 5 * time.Second})
	for _, host := range []string{"127.0.0.1", "[::ffff:127.0.0.1]", "localhost"} {
		resp, err := c.Get("http://" + host + ":" + port + "/")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: connected", host)
		}
		if !errors.Is(err, ErrNotPublic) || !strings.HasPrefix(Reason(err, time.Second), "refused: ") {
			t.Errorf("%s: %v (reason %q)", host, err, Reason(err, time.Second))
		}
	}
	// The raw dialer too, for every form the issue lists.
	d := Dialer(time.Second, false)
	for _, addr := range []string{"[::127.0.0.1]:" + port, "[::7f00:1]:" + port, "0.0.0.0:" + port,
		"[fec0::1]:80", "[2002:7f00:1::1]:80", "[2001:0:4136:e378:8000:63bf:80ff:fffe]:80",
		"240.0.0.1:80", "255.255.255.255:80", "192.0.0.1:80", "192.0.2.1:80", "198.51.100.1:80", "203.0.113.1:80", "[2001:db8::1]:80"} {
		conn, err := d.DialContext(t.Context(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Fatalf("%s: connected", addr)
		}
		if !errors.Is(err, ErrNotPublic) {
			t.Errorf("%s: %v, want a refusal", addr, err)
		}
	}
	if hit {
		t.Fatal("the loopback server was reached")
	}
	// The documented allowance: tests and the simulator on loopback.
	resp, err := Client(ClientOptions{AllowPrivate: true}).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed private: %v", err)
	}
	resp.Body.Close()
	if !hit {
		t.Fatal("allowed private: not reached")
	}
}

// TestRedirects: each hop is checked; a redirect to loopback (by address or by name) or to
// plain http from https is refused, and more than MaxRedirects are not followed.
func TestRedirects(t *testing.T) {
	t.Parallel()
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "internal secret")
	}))
	t.Cleanup(inner.Close)
	innerPort := inner.URL[strings.LastIndexByte(inner.URL, ':')+1:]
	hops := 0
	// outer stands for a public server (exempt from the address check) that redirects inside.
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-ip":
			http.Redirect(w, r, inner.URL+"/", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, "http://localhost:"+innerPort+"/", http.StatusTemporaryRedirect)
		case "/to-mapped":
			http.Redirect(w, r, "http://[::ffff:127.0.0.1]:"+innerPort+"/", http.StatusMovedPermanently)
		case "/loop":
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ok":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			io.WriteString(w, "public")
		}
	}))
	t.Cleanup(outer.Close)
	u, _ := url.Parse(outer.URL)
	exempt := netip.MustParseAddrPort(u.Host)
	c := Client(ClientOptions{Timeout: 5 * time.Second, MaxRedirects: 3, exempt: exempt})
	for _, path := range []string{"/to-ip", "/to-name", "/to-mapped"} {
		resp, err := c.Get(outer.URL + path)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Fatalf("%s: followed to %q", path, b)
		}
		if r := Reason(err, time.Second); !strings.HasPrefix(r, "refused: redirect") || !strings.Contains(r, "loopback") {
			t.Errorf("%s: reason %q (%v)", path, r, err)
		}
	}
	if _, err := c.Get(outer.URL + "/loop"); err == nil || !strings.Contains(err.Error(), "more than 3 redirects") || hops != 4 {
		t.Errorf("redirect loop: %v after %d hops", err, hops)
	}
	resp, err := c.Get(outer.URL + "/ok")
	if err != nil {
		t.Fatalf("a redirect within the public server: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "public" {
		t.Fatalf("body %q", b)
	}
	// Without MaxRedirects a 3xx is the answer.
	resp, err = Client(ClientOptions{exempt: exempt}).Get(outer.URL + "/to-ip")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("no redirects: %v", err)
	}
	resp.Body.Close()
	// https never goes down to http.
	check := checkRedirect(ClientOptions{MaxRedirects: 3})
	prev, _ := http.NewRequest(http.MethodGet, "https://hooks.example.com/", nil)
	next, _ := http.NewRequest(http.MethodGet, "http://hooks.example.com/", nil)
	if err := check(next, []*http.Request{prev}); err == nil || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("downgrade: %v", err)
	}
}

// FuzzCheckURL: the URL check never panics, and whatever it accepts has a public address or a
// name that is not localhost, an http(s) scheme and no credentials.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1/", "https://[::127.0.0.1]/",
		"https://[fe80::1%25eth0]:8080/", "http://2130706433/", "http://0x7f.1/", "https://u:p@h/", "https://[2002:a00:1::1]/",
		"https:///x", "http://[::ffff:7f00:1]", "http://LOCALHOST./", "http://a.localhost:1/", "http://%31%32%37.0.0.1/", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := CheckURL(context.Background(), raw, Policy{Resolver: resolver})
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || len(raw) > MaxURLBytes {
			t.Fatalf("accepted %q", raw)
		}
		host := u.Hostname()
		if ip, perr := netip.ParseAddr(host); perr == nil {
			if Check(ip) != nil {
				t.Fatalf("accepted %q with %s", raw, ip)
			}
			return
		}
		if _, ok := resolver[host]; !ok {
			t.Fatalf("accepted %q whose host %q does not resolve", raw, host)
		}
	})
}

// FuzzCheck: an address and its IPv4-mapped form get the same verdict, and nothing that
// netip's own predicates call loopback, private, link-local, multicast or unspecified passes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "2002:a00:1::1", "64:ff9b::7f00:1", "2001::1", "8.8.8.8", "fe80::1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		err := Check(ip)
		if err == nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsMulticast() ||
			ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() || !ip.IsGlobalUnicast()) {
			t.Fatalf("%s passed", ip)
		}
		if ip.Is4() {
			if (Check(netip.AddrFrom16(ip.As16())) == nil) != (err == nil) {
				t.Fatalf("%s and its IPv4-mapped form disagree", ip)
			}
		}
	})
}
