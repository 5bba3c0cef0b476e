package events

import (
	"context"
	"errors"
	"net"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/netguard"
)

// CheckURL checks an endpoint URL when it is registered, with the network guard
// (netguard.CheckURL): absolute http or https, a host, no credentials, no fragment; and unless
// allowPrivate, every address the host resolves to is public. The guard checks again on every
// connection, since DNS may answer differently later. resolver nil: the default.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) error {
	p := netguard.Policy{AllowPrivate: allowPrivate}
	if resolver != nil {
		p.Resolver = resolver
	}
	return checkURL(ctx, raw, p)
}

func checkURL(ctx context.Context, raw string, p netguard.Policy) error {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		return switchboard.Errorf(switchboard.EINVALID, "invalid_endpoint_url",
			"url must be an absolute http(s) URL without a fragment, at most 2048 characters, such as https://app.example.com/webhooks")
	}
	_, err := netguard.CheckURL(ctx, raw, p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, netguard.ErrInvalidURL):
		_, why, _ := strings.Cut(err.Error(), ": ")
		return switchboard.Errorf(switchboard.EINVALID, "invalid_endpoint_url",
			"url must be an absolute http(s) URL without credentials or a fragment, at most 2048 characters, such as https://app.example.com/webhooks (%s)", why)
	case errors.Is(err, netguard.ErrUnresolvable):
		return switchboard.Errorf(switchboard.EINVALID, "endpoint_url_unresolvable", "the host of url does not resolve: %s", err)
	case errors.Is(err, netguard.ErrNotPublic):
		var ge *netguard.Error
		msg := err.Error()
		if errors.As(err, &ge) {
			msg = ge.Error()
		} else {
			_, msg, _ = strings.Cut(msg, ": ")
		}
		return switchboard.Errorf(switchboard.EINVALID, "endpoint_url_private",
			"%s; endpoints must be public unless endpoints_allow_private is set", msg)
	}
	return err
}
