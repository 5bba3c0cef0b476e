package events

import (
	"context"
	"net/netip"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestCheckIP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true},
		{"93.184.216.34", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"10.0.0.1", false},
		{"172.16.5.4", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"198.18.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.1.1.1", false},  // IPv4-mapped private
		{"64:ff9b::7f00:1", false},  // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},  // NAT64 of 8.8.8.8
		{"2002:a00:1::1", false},    // 6to4 of 10.0.0.1
		{"2002:808:808::1", true},   // 6to4 of 8.8.8.8
	} {
		err := CheckIP(netip.MustParseAddr(c.ip))
		if (err == nil) != c.public {
			t.Errorf("CheckIP(%s) = %v, want public=%v", c.ip, err, c.public)
		}
		if err != nil && switchboard.ErrorCodeOf(err) != "endpoint_url_private" {
			t.Errorf("CheckIP(%s): code %s", c.ip, switchboard.ErrorCodeOf(err))
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		url, code string
	}{
		{"https://93.184.216.34/hooks", ""},
		{"http://93.184.216.34:8080/hooks?x=1", ""},
		{"ftp://93.184.216.34/", "invalid_endpoint_url"},
		{"/relative", "invalid_endpoint_url"},
		{"https://", "invalid_endpoint_url"},
		{"https://93.184.216.34/#frag", "invalid_endpoint_url"},
		{"https://user:pw@93.184.216.34/", "invalid_endpoint_url"},
		{"https://127.0.0.1/hooks", "endpoint_url_private"},
		{"https://[::1]:8443/hooks", "endpoint_url_private"},
		{"https://169.254.169.254/latest/meta-data", "endpoint_url_private"},
		{"https://localhost/hooks", "endpoint_url_private"},
		{"https://api.localhost/hooks", "endpoint_url_private"},
		{"https://does-not-exist.invalid/hooks", "endpoint_url_unresolvable"},
	} {
		err := CheckURL(ctx, c.url, false, nil)
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
