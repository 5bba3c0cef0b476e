package tenantcreds_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
)

// fakeAccount is a provider that accepts the secret "good..." and counts its syncs.
type fakeAccount struct {
	switchboard.Provider
	creds  switchboard.TenantCredentials
	synced *atomic.Int32
}

func (f *fakeAccount) CheckAccount(context.Context) error {
	if !strings.HasPrefix(f.creds.Secret, "good") {
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected", "refused")
	}
	return nil
}

func (f *fakeAccount) SyncAccountWebhooks(context.Context, string) (int, int, error) {
	f.synced.Add(1)
	return 2, 1, nil
}

func openStore(t *testing.T) switchboard.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newCache(s switchboard.Store, builds *atomic.Int32, synced *atomic.Int32, interval time.Duration) *tenantcreds.Cache {
	return tenantcreds.New(tenantcreds.Config{Store: s, Interval: interval, NodeAccountSID: "AC" + strings.Repeat("0", 32),
		Build: func(c *switchboard.TenantCredentials) (tenantcreds.Account, error) {
			builds.Add(1)
			if c.Secret == "goodbutunbuildable" {
				return nil, errors.New("cannot build")
			}
			return &fakeAccount{creds: *c, synced: synced}, nil
		}})
}

var acct = "AC" + strings.Repeat("a", 32)

// TestCacheAcrossNodes: a change saved through one node's cache reaches another node's within
// its interval, a provider is rebuilt only when the credentials change, refused credentials
// change nothing, and a removal sends the tenant back to the node's account.
func TestCacheAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	var buildsA, buildsB, synced atomic.Int32
	a := newCache(s, &buildsA, &synced, time.Hour)
	const interval = 100 * time.Millisecond
	b := newCache(s, &buildsB, &synced, interval)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Run(rctx)

	// Refused: nothing stored, no sync.
	bad := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: acct, Kind: switchboard.CredentialToken, Secret: "badtoken123"}
	if _, err := a.Put(ctx, bad, tenantcreds.PutOptions{}); switchboard.ErrorCodeOf(err) != "credentials_rejected" {
		t.Fatalf("bad: %v", err)
	}
	if _, err := s.GetTenantCredentials(ctx, switchboard.DefaultTenant); !switchboard.IsKind(err, switchboard.ENOTFOUND) || synced.Load() != 0 {
		t.Fatalf("a refused put stored or synced: %v %d", err, synced.Load())
	}
	// The node's own account is not a tenant's.
	own := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: "AC" + strings.Repeat("0", 32), Kind: switchboard.CredentialToken, Secret: "goodtoken123"}
	if _, err := a.Put(ctx, own, tenantcreds.PutOptions{}); switchboard.ErrorCodeOf(err) != "node_account" {
		t.Fatalf("node's account: %v", err)
	}

	good := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: acct, Kind: switchboard.CredentialToken, Secret: "goodtoken123"}
	res, err := a.Put(ctx, good, tenantcreds.PutOptions{})
	if err != nil || !res.Synced || res.Numbers != 2 || res.Changed != 1 || synced.Load() != 1 {
		t.Fatalf("put: %+v %v", res, err)
	}
	if a.Provider(switchboard.DefaultTenant) == nil || a.Provider("other") != nil {
		t.Fatal("the saving node does not use the new provider at once")
	}
	if tok, ok := a.SigningToken(acct); !ok || tok != "goodtoken123" {
		t.Fatalf("signing token: %q %v", tok, ok)
	}
	if _, ok := a.SigningToken("AC" + strings.Repeat("9", 32)); ok {
		t.Fatal("an unknown account is a tenant's")
	}
	start := time.Now()
	waitFor(t, 5*time.Second, func() bool { return b.Provider(switchboard.DefaultTenant) != nil })
	t.Logf("the other node uses the new credentials after %s (interval %s)", time.Since(start).Round(time.Millisecond), interval)
	first := b.Provider(switchboard.DefaultTenant)
	builds := buildsB.Load()
	time.Sleep(3 * interval)
	if b.Provider(switchboard.DefaultTenant) != first || buildsB.Load() != builds {
		t.Fatal("an unchanged provider was rebuilt")
	}

	// Rotation: the other node rebuilds.
	rotated := *good
	rotated.Secret = "goodtoken456"
	if _, err := a.Put(ctx, &rotated, tenantcreds.PutOptions{SkipWebhookSync: true}); err != nil {
		t.Fatal(err)
	}
	if synced.Load() != 1 {
		t.Fatal("SkipWebhookSync synced")
	}
	waitFor(t, 5*time.Second, func() bool {
		p, _ := b.Provider(switchboard.DefaultTenant).(*fakeAccount)
		return p != nil && p.creds.Secret == "goodtoken456"
	})

	// Stored credentials that do not build: the tenant's sends fail retryably instead of going
	// out through the node's account.
	broken := *good
	broken.Secret = "goodbutunbuildable"
	broken.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	if err := s.PutTenantCredentials(ctx, &broken); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p := a.Provider(switchboard.DefaultTenant)
	_, err = p.Send(ctx, &switchboard.SendRequest{})
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) || pe.Outcome != switchboard.OutcomeRetry {
		t.Fatalf("unusable credentials: %v", err)
	}

	// Removal.
	if err := a.Delete(ctx, switchboard.DefaultTenant); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return b.Provider(switchboard.DefaultTenant) == nil })
	if _, ok := b.SigningToken(acct); ok {
		t.Fatal("a removed account still signs")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
