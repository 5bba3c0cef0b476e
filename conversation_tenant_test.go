package switchboard_test

import (
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestInboundTenant(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	out := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	conv := func(tenant string, lastOut *time.Time) *switchboard.Conversation {
		return &switchboard.Conversation{Tenant: tenant, LastOutboundAt: lastOut, LastInboundAt: out(time.Hour)}
	}
	for _, tc := range []struct {
		name    string
		threads []*switchboard.Conversation
		want    string
	}{
		{"no conversation", nil, switchboard.DefaultTenant},
		{"only inbound so far", []*switchboard.Conversation{conv("acme", nil)}, switchboard.DefaultTenant},
		{"one tenant wrote", []*switchboard.Conversation{conv("acme", out(0))}, "acme"},
		{"the latest outbound wins", []*switchboard.Conversation{conv("acme", out(time.Minute)), conv("globex", out(2*time.Minute)), conv("initech", nil)}, "globex"},
		{"order does not matter", []*switchboard.Conversation{conv("globex", out(2*time.Minute)), conv("acme", out(time.Minute))}, "globex"},
		{"a tie goes to the lowest ID", []*switchboard.Conversation{conv("globex", out(time.Minute)), conv("acme", out(time.Minute))}, "acme"},
		{"an unnamed tenant is default", []*switchboard.Conversation{conv("", out(0))}, switchboard.DefaultTenant},
	} {
		if got := switchboard.InboundTenant(tc.threads); got != tc.want {
			t.Errorf("%s: InboundTenant = %q, want %q", tc.name, got, tc.want)
		}
	}
}
