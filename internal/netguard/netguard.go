// Package netguard is the one guard of every outbound connection Switchboard makes on behalf of
// someone else's URL: event deliveries to application endpoints, inbound media downloads and the
// outbound media size checks. A URL given by an application or a provider must not turn
// Switchboard into a proxy to its own network (server-side request forgery), so:
//
//   - Check refuses every address that the IANA IPv4 and IPv6 special-purpose address registries
//     (and the IPv6 address space registry) do not mark as globally reachable unicast, and looks
//     through the IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4, ISATAP);
//   - CheckURL checks a URL when it is registered or received (scheme, host, no credentials, no
//     IP address in a non-canonical form, and every address the host resolves to);
//   - Dialer checks the address of every connection when it is made (a net.Dialer Control hook),
//     so a DNS answer that changes after registration (DNS rebinding) is refused too;
//   - Client builds an HTTP client on that dialer with no proxy, checked redirects and time and
//     header-size limits.
//
// Private targets are refused unless the caller's policy allows them (AllowPrivate: the
// endpoints_allow_private and media_allow_private settings, for development and tests).
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrNotPublic is matched (errors.Is) by every refusal of an address.
var ErrNotPublic = errors.New("not a public address")

// Error says why an address is refused.
type Error struct {
	// Addr is the refused address; Reason what it is, such as "a loopback address".
	Addr   netip.Addr
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%s is %s", e.Addr, e.Reason) }

// Is makes errors.Is(err, ErrNotPublic) hold.
func (e *Error) Is(target error) bool { return target == ErrNotPublic }

type special struct {
	prefix netip.Prefix
	reason string
}

func sp(p, reason string) special { return special{netip.MustParsePrefix(p), reason} }

// v4Specials are the IPv4 blocks refused: the IANA IPv4 special-purpose address registry's
// blocks that are not globally reachable, plus multicast and the reserved class E. The registry's
// globally reachable blocks (192.31.196.0/24 AS112, 192.52.193.0/24 AMT, 192.175.48.0/24 direct
// delegation AS112) stay allowed; the anycast addresses inside 192.0.0.0/24 are refused with the
// rest of that block, as no webhook or media host lives there.
var v4Specials = []special{
	sp("0.0.0.0/8", `a "this network" address (0.0.0.0/8)`),
	sp("10.0.0.0/8", "a private address (10.0.0.0/8)"),
	sp("100.64.0.0/10", "a shared (carrier-grade NAT) address (100.64.0.0/10)"),
	sp("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
	sp("169.254.0.0/16", "a link-local address (169.254.0.0/16)"),
	sp("172.16.0.0/12", "a private address (172.16.0.0/12)"),
	sp("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
	sp("192.0.2.0/24", "a documentation address (192.0.2.0/24, TEST-NET-1)"),
	sp("192.88.99.0/24", "a deprecated 6to4 relay anycast address (192.88.99.0/24)"),
	sp("192.168.0.0/16", "a private address (192.168.0.0/16)"),
	sp("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
	sp("198.51.100.0/24", "a documentation address (198.51.100.0/24, TEST-NET-2)"),
	sp("203.0.113.0/24", "a documentation address (203.0.113.0/24, TEST-NET-3)"),
	sp("224.0.0.0/4", "a multicast address (224.0.0.0/4)"),
	sp("255.255.255.255/32", "the limited broadcast address"),
	sp("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
}

// v6Specials are the IPv6 blocks refused inside the global unicast space 2000::/3 (everything
// outside it is refused by globalUnicast, with the reasons of v6Outside).
var v6Specials = []special{
	sp("2001::/32", "a Teredo address (2001::/32)"),
	sp("2001:db8::/32", "a documentation address (2001:db8::/32)"),
	sp("2001::/23", "an IETF protocol assignment (2001::/23)"),
	sp("3fff::/20", "a documentation address (3fff::/20)"),
}

// v6Outside names the blocks outside 2000::/3 in the error, most specific first.
var v6Outside = []special{
	sp("::/128", "the unspecified address"),
	sp("::1/128", "a loopback address (::1)"),
	sp("::/96", "a deprecated IPv4-compatible address (::/96)"),
	sp("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
	sp("100::/64", "a discard-only address (100::/64)"),
	sp("fc00::/7", "a unique local (private) address (fc00::/7)"),
	sp("fe80::/10", "a link-local address (fe80::/10)"),
	sp("fec0::/10", "a deprecated site-local address (fec0::/10)"),
	sp("ff00::/8", "a multicast address (ff00::/8)"),
}

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	mapped        = netip.MustParsePrefix("::ffff:0:0/96")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	teredo        = netip.MustParsePrefix("2001::/32")
)

// Check returns nil when ip is a globally reachable unicast address, or an *Error saying what it
// is. IPv6 addresses that embed an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4
// 2002::/16, ISATAP interface identifiers) are judged by the IPv4 address they lead to.
func Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &Error{Addr: ip, Reason: "not an IP address"}
	}
	ip = ip.WithZone("")
	if ip.Is4() {
		for _, s := range v4Specials {
			if s.prefix.Contains(ip) {
				return &Error{Addr: ip, Reason: s.reason}
			}
		}
		return nil
	}
	b := ip.As16()
	switch {
	case mapped.Contains(ip):
		return embedded(ip, ip.Unmap(), "an IPv4-mapped")
	case nat64.Contains(ip):
		return embedded(ip, netip.AddrFrom4([4]byte(b[12:16])), "a NAT64")
	case sixToFour.Contains(ip):
		return embedded(ip, netip.AddrFrom4([4]byte(b[2:6])), "a 6to4")
	case teredo.Contains(ip):
		// The client's IPv4 address is the last 32 bits, inverted: say which, refuse anyway
		// (a Teredo client is behind a NAT, never a server for Switchboard).
		var v4 [4]byte
		for i := range v4 {
			v4[i] = ^b[12+i]
		}
		return &Error{Addr: ip, Reason: fmt.Sprintf("a Teredo address (2001::/32, client %s)", netip.AddrFrom4(v4))}
	}
	if !globalUnicast.Contains(ip) {
		for _, s := range v6Outside {
			if s.prefix.Contains(ip) {
				return &Error{Addr: ip, Reason: s.reason}
			}
		}
		return &Error{Addr: ip, Reason: "outside the IPv6 global unicast space (2000::/3)"}
	}
	for _, s := range v6Specials {
		if s.prefix.Contains(ip) {
			return &Error{Addr: ip, Reason: s.reason}
		}
	}
	// ISATAP interface identifiers (::0:5efe:a.b.c.d, ::200:5efe:a.b.c.d) reach the IPv4 address
	// in their last 32 bits through a tunnel.
	if (b[8]|0x02) == 0x02 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		return embedded(ip, netip.AddrFrom4([4]byte(b[12:16])), "an ISATAP")
	}
	return nil
}

// embedded judges an IPv6 address by the IPv4 address v4 it embeds.
func embedded(ip, v4 netip.Addr, form string) error {
	var e *Error
	if err := Check(v4); errors.As(err, &e) {
		return &Error{Addr: ip, Reason: fmt.Sprintf("%s form of %s, %s", form, v4, e.Reason)}
	}
	return nil
}
