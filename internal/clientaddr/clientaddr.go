// Package clientaddr decides which address an HTTP request comes from. The connection's peer is
// the client unless it is a trusted reverse proxy; then the forwarding headers it wrote
// (RFC 7239 Forwarded, or X-Forwarded-For) are read from the right, each trusted hop skipped, and
// the first address not trusted is the client. Headers from anyone else are ignored: a client
// could forge them to escape a limit or to lock someone else out.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client address.
type Resolver struct {
	// Trusted are the networks of the reverse proxies whose forwarding headers are believed.
	Trusted []netip.Prefix
}

// maxHops bounds the forwarding entries read, whatever a header holds.
const maxHops = 32

// Client returns the client's address of r; the zero Addr when the peer address is unreadable.
func (rs Resolver) Client(r *http.Request) netip.Addr {
	peer := parseHost(r.RemoteAddr)
	if !peer.IsValid() || !rs.trusted(peer) {
		return peer
	}
	hops := forwarded(r.Header.Values("Forwarded"))
	if hops == nil {
		hops = xForwardedFor(r.Header.Values("X-Forwarded-For"))
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxHops; i-- {
		a := parseHost(hops[i])
		if !a.IsValid() {
			// A hop a trusted proxy could not name (obfuscated, "unknown", garbage): the nearest
			// trusted proxy stands for the client.
			return client
		}
		client = a
		if !rs.trusted(a) {
			return a
		}
	}
	return client
}

// String returns the client's address of r as text ("" when unreadable).
func (rs Resolver) String(r *http.Request) string {
	a := rs.Client(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (rs Resolver) trusted(a netip.Addr) bool {
	for _, p := range rs.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// xForwardedFor returns the addresses of X-Forwarded-For headers, in order.
func xForwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// forwarded returns the for= parameters of RFC 7239 Forwarded headers, in order; nil when there
// are none. An element without for= counts as an unknown hop.
func forwarded(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			found := ""
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					found = strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
			out = append(out, found)
		}
	}
	return out
}

// parseHost reads an address with or without a port, IPv6 in brackets or not.
func parseHost(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}
