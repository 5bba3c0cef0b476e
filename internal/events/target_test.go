package events

import (
	"context"
	"net"
	"net/netip"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/netguard"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestCheckURL: endpoint registration maps the guard's verdicts to stable codes; every address
// form issue 16 lists is refused as endpoint_url_private.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := fakeResolver{"hooks.example.com": {netip.MustParseAddr("93.184.216.34")},
		"inside.example.com": {netip.MustParseAddr("2002:a00:1::1")}}
	for _, c := range []struct {
		url, code string
	}{
		{"https://93.184.216.34/hooks", ""},
		{"https://hooks.example.com/hooks", ""},
		{"http://93.184.216.34:8080/hooks?x=1", ""},
		{"ftp://93.184.216.34/", "invalid_endpoint_url"},
		{"/relative", "invalid_endpoint_url"},
		{"https://", "invalid_endpoint_url"},
		{"https://93.184.216.34/#frag", "invalid_endpoint_url"},
		{"https://user:pw@93.184.216.34/", "invalid_endpoint_url"},
		{"http://2130706433/", "invalid_endpoint_url"},
		{"https://127.0.0.1/hooks", "endpoint_url_private"},
		{"https://[::1]:8443/hooks", "endpoint_url_private"},
		{"https://[::127.0.0.1]/hooks", "endpoint_url_private"},
		{"https://[::7f00:1]/hooks", "endpoint_url_private"},
		{"https://[fec0::1]/hooks", "endpoint_url_private"},
		{"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks", "endpoint_url_private"},
		{"https://[2002:a00:1::1]/hooks", "endpoint_url_private"},
		{"https://0.1.2.3/hooks", "endpoint_url_private"},
		{"https://240.0.0.1/hooks", "endpoint_url_private"},
		{"https://255.255.255.255/hooks", "endpoint_url_private"},
		{"https://192.0.0.8/hooks", "endpoint_url_private"},
		{"https://192.0.2.1/hooks", "endpoint_url_private"},
		{"https://198.51.100.1/hooks", "endpoint_url_private"},
		{"https://203.0.113.1/hooks", "endpoint_url_private"},
		{"https://[2001:db8::1]/hooks", "endpoint_url_private"},
		{"https://169.254.169.254/latest/meta-data", "endpoint_url_private"},
		{"https://localhost/hooks", "endpoint_url_private"},
		{"https://api.localhost/hooks", "endpoint_url_private"},
		{"https://inside.example.com/hooks", "endpoint_url_private"},
		{"https://does-not-exist.invalid/hooks", "endpoint_url_unresolvable"},
	} {
		err := checkURL(ctx, c.url, netguard.Policy{Resolver: r})
		if got := codeOf(err); got != c.code {
			t.Errorf("CheckURL(%q) = %v, want code %q", c.url, err, c.code)
		}
	}
	// Allowed private targets still need a well-formed URL, and are not resolved.
	if err := CheckURL(ctx, "http://127.0.0.1:9/x", true, nil); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := CheckURL(ctx, "http://does-not-exist.invalid/", true, nil); err != nil {
		t.Errorf("allowed private, unresolvable: %v", err)
	}
	if got := codeOf(CheckURL(ctx, "gopher://x", true, nil)); got != "invalid_endpoint_url" {
		t.Errorf("allowed private, bad scheme: %s", got)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return switchboard.ErrorCodeOf(err)
}
