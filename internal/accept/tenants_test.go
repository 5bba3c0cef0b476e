package accept_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestSenderTenants: a sender that names tenants is theirs alone (by name and in its pool); one
// that names none is every tenant's; a change of the live senders applies to the next request.
func TestSenderTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const shared, acmeOnly, globexOnly = "+15005550006", "+14155550111", "+14155550112"
	live := switchboard.NewLiveSenders([]switchboard.Sender{
		{From: shared, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"},
		{From: acmeOnly, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "field", Tenants: []string{"acme"}},
		{From: globexOnly, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "field", Tenants: []string{"globex"}},
	})
	svc := accept.New(accept.Config{Store: db, LiveSenders: live, Clock: func() time.Time { return time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC) }})
	key := func(tenant string) *switchboard.APIKey {
		return &switchboard.APIKey{ID: "key_" + tenant, Name: tenant, Tenant: tenant}
	}
	send := func(k *switchboard.APIKey, to string, req accept.Request) (*switchboard.Message, error) {
		req.To, req.Body = to, "hello"
		m, _, err := svc.Accept(ctx, k, &req, "")
		return m, err
	}
	for i, tc := range []struct {
		tenant string
		req    accept.Request
		from   string // "" : refused with code
		code   string
	}{
		{"acme", accept.Request{Pool: "field"}, acmeOnly, ""},
		{"globex", accept.Request{Pool: "field"}, globexOnly, ""},
		{"initech", accept.Request{Pool: "field"}, "", "unknown_pool"},
		{"acme", accept.Request{From: globexOnly}, "", "unknown_sender"},
		{"globex", accept.Request{From: globexOnly}, globexOnly, ""},
		{"initech", accept.Request{}, shared, ""},
		{"", accept.Request{From: shared}, shared, ""},
	} {
		to := "+1415555" + string(rune('0'+i)) + "100"
		m, err := send(key(tc.tenant), to, tc.req)
		if tc.code != "" {
			if switchboard.ErrorCodeOf(err) != tc.code {
				t.Errorf("%s %+v: %v, want %s", tc.tenant, tc.req, err, tc.code)
			}
			continue
		}
		if err != nil || m.From != tc.from {
			t.Errorf("%s %+v: from %v, %v; want %s", tc.tenant, tc.req, m, err, tc.from)
		}
	}
	// The API opens the field pool to every tenant: the next request sees it.
	all := live.Load().All()
	all[2].Tenants = nil
	live.Store(all)
	if m, err := send(key("initech"), "+14155559100", accept.Request{Pool: "field"}); err != nil || m.From != globexOnly {
		t.Fatalf("after opening the pool: %+v, %v", m, err)
	}
}
