package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// InputConfig holds the settings of the untrusted doors: where the simulator may listen, which
// proxies are trusted to name the client's address, and which numbers a voice flow may dial.
type InputConfig struct {
	// SimAllowRemote lets `serve` run with the simulator provider on a non-loopback address.
	SimAllowRemote bool
	// TrustedProxies are the networks whose X-Forwarded-For / Forwarded headers name the client.
	TrustedProxies []netip.Prefix
	// DialAllowSIP lets flow variables and dial steps name sip: URIs.
	DialAllowSIP bool
	// DialAllowPremium lets flows dial premium-rate numbers.
	DialAllowPremium bool
}

func init() {
	settings = append(settings,
		setting{key: "sim_allow_remote", env: "SWITCHBOARD_SIM_ALLOW_REMOTE", def: "false", help: "let serve run the in-process simulator on a non-loopback address (a shared test environment); refused otherwise"},
		setting{key: "trusted_proxies", env: "SWITCHBOARD_TRUSTED_PROXIES", help: "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers name the client address (empty: the peer address is the client)"},
		setting{key: "dial_allow_sip", env: "SWITCHBOARD_DIAL_ALLOW_SIP", def: "false", help: "let voice flows dial sip: URIs (refused by default)"},
		setting{key: "dial_allow_premium", env: "SWITCHBOARD_DIAL_ALLOW_PREMIUM", def: "false", help: "let voice flows dial premium-rate numbers (refused by default)"},
	)
}

// buildInput reads the input-policy settings.
func (c *Config) buildInput(v map[string]string) error {
	in := &c.Input
	var err error
	for _, b := range []struct {
		key string
		dst *bool
	}{{"sim_allow_remote", &in.SimAllowRemote}, {"dial_allow_sip", &in.DialAllowSIP}, {"dial_allow_premium", &in.DialAllowPremium}} {
		if *b.dst, err = strconv.ParseBool(v[b.key]); err != nil {
			return fmt.Errorf("config: %s=%q must be true or false; set %s", b.key, v[b.key], envOf(b.key))
		}
	}
	if in.TrustedProxies, err = ParsePrefixes(v["trusted_proxies"]); err != nil {
		return fmt.Errorf("config: trusted_proxies: %w; set SWITCHBOARD_TRUSTED_PROXIES", err)
	}
	return nil
}

// ParsePrefixes reads comma-separated CIDRs; a bare address is a /32 (or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", part)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", part)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
