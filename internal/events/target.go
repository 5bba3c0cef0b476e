package events

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Address ranges a webhook may not reach unless private targets are allowed, beyond what
// netip.Addr's predicates name.
var (
	sharedRange  = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	nat64Range   = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
)

// CheckIP says why ip is not a public address a webhook may go to, or returns nil.
func CheckIP(ip netip.Addr) error {
	ip = ip.Unmap()
	why := ""
	switch {
	case !ip.IsValid():
		why = "not an IP address"
	case ip.IsLoopback():
		why = "a loopback address"
	case ip.IsPrivate():
		why = "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		why = "a link-local address"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		why = "an unspecified address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		why = "a multicast address"
	case sharedRange.Contains(ip), benchmarking.Contains(ip):
		why = "a non-public address"
	case nat64Range.Contains(ip):
		b := ip.As16()
		return CheckIP(netip.AddrFrom4([4]byte(b[12:])))
	case sixToFour.Contains(ip):
		b := ip.As16()
		return CheckIP(netip.AddrFrom4([4]byte(b[2:6])))
	}
	if why == "" {
		return nil
	}
	return switchboard.Errorf(switchboard.EINVALID, "endpoint_url_private",
		"%s is %s; endpoints must be public unless endpoints_allow_private is set", ip, why)
}

// CheckURL checks an endpoint URL when it is registered: absolute http or https, a host, no
// fragment; and unless allowPrivate, every address the host resolves to is public. The check is
// repeated on every connection (see Dialer), since DNS may answer differently later.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.Fragment != "" || len(raw) > 2048 {
		return switchboard.Errorf(switchboard.EINVALID, "invalid_endpoint_url",
			"url must be an absolute http(s) URL without a fragment, at most 2048 characters, such as https://app.example.com/webhooks")
	}
	if u.User != nil {
		return switchboard.Errorf(switchboard.EINVALID, "invalid_endpoint_url", "url must not carry credentials; verify the signature instead")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckIP(ip)
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return switchboard.Errorf(switchboard.EINVALID, "endpoint_url_private", "%s is a loopback name; endpoints must be public unless endpoints_allow_private is set", host)
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return switchboard.Errorf(switchboard.EINVALID, "endpoint_url_unresolvable", "the host %s of url does not resolve", host)
	}
	for _, ip := range ips {
		if err := CheckIP(ip); err != nil {
			return err
		}
	}
	return nil
}

// Dialer returns a dialer that refuses, at connection time, any address CheckIP refuses unless
// allowPrivate: whatever the host resolved to at registration, a later DNS answer pointing at an
// internal address (DNS rebinding) is refused too.
func Dialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refused: %s is not an IP address and port", address)
			}
			if err := CheckIP(ap.Addr()); err != nil {
				return fmt.Errorf("refused: %s", switchboard.ErrorMessage(err))
			}
			return nil
		}
	}
	return d
}
