package secretbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/secretbox"
)

// TestTenantCredentialsAtRest: on both engines a tenant's auth token / API key secret and its
// webhook token are stored sealed (the raw row never holds them), bound to their tenant and
// field (a value copied to another tenant does not open); plaintext rows written without a key
// are counted, then sealed by Reseal once a key is set; a key rotation reseals them; without the
// key nothing opens.
func TestTenantCredentialsAtRest(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t, "k1"), key(t, "k2")
	for name, raw := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			if err := raw.CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
				StagingMode: switchboard.StagingAllowlist, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			const token, keySecret, hook = "tokentokentoken0123456789abcdef0", "keysecret0123456789abcdefghijklm", "hooktoken0123456789abcdefghijklm"
			plain := secretbox.Wrap(raw, nil)
			legacy := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: "AC" + strings.Repeat("1", 32),
				Kind: switchboard.CredentialToken, Secret: token, ValidatedAt: now, UpdatedAt: now}
			if err := plain.PutTenantCredentials(ctx, legacy); err != nil {
				t.Fatal(err)
			}
			if r, err := plain.Reseal(ctx); err != nil || r.PlaintextCredentials != 1 || r.ResealedCredentials != 0 {
				t.Fatalf("reseal without keys: %+v %v", r, err)
			}
			box := secretbox.Wrap(raw, keyring(t, k1))
			acme := &switchboard.TenantCredentials{Tenant: "acme", AccountSID: "AC" + strings.Repeat("2", 32), Kind: switchboard.CredentialAPIKey,
				APIKeySID: "SK" + strings.Repeat("2", 32), Secret: keySecret, WebhookToken: hook, ValidatedAt: now, UpdatedAt: now}
			if err := box.PutTenantCredentials(ctx, acme); err != nil || acme.Secret != keySecret {
				t.Fatalf("put: %v %+v", err, acme)
			}
			if r, err := box.Reseal(ctx); err != nil || r.ResealedCredentials != 1 {
				t.Fatalf("reseal with k1: %+v %v", r, err)
			}
			assertCredsSealed(t, raw, "k1", token, keySecret, hook)
			got, err := box.GetTenantCredentials(ctx, "acme")
			if err != nil || got.Secret != keySecret || got.WebhookToken != hook {
				t.Fatalf("get through the box: %v %+v", err, got)
			}
			// A sealed value moved to another tenant's row does not open.
			rawAcme, _ := raw.GetTenantCredentials(ctx, "acme")
			rawDefault, _ := raw.GetTenantCredentials(ctx, switchboard.DefaultTenant)
			if err := raw.ReplaceTenantSecrets(ctx, switchboard.DefaultTenant, [2]string{rawDefault.Secret, rawDefault.WebhookToken},
				[2]string{rawAcme.Secret, ""}); err != nil {
				t.Fatal(err)
			}
			if _, err := box.GetTenantCredentials(ctx, switchboard.DefaultTenant); err == nil || !strings.Contains(err.Error(), "not this row's") {
				t.Fatalf("a value moved across tenants opened: %v", err)
			}
			if err := raw.DeleteTenantCredentials(ctx, switchboard.DefaultTenant); err != nil {
				t.Fatal(err)
			}
			// Key rotation: k2 first; Reseal moves the values to k2, after which k1 may go.
			box2 := secretbox.Wrap(raw, keyring(t, k2+","+k1))
			if r, err := box2.Reseal(ctx); err != nil || r.ResealedCredentials != 1 {
				t.Fatalf("reseal after the key rotation: %+v %v", r, err)
			}
			assertCredsSealed(t, raw, "k2", token, keySecret, hook)
			if got, err := secretbox.Wrap(raw, keyring(t, k2)).GetTenantCredentials(ctx, "acme"); err != nil || got.Secret != keySecret {
				t.Fatalf("k1 dropped: %v %+v", err, got)
			}
			if _, err := plain.ListTenantCredentials(ctx); !errors.Is(err, secretbox.ErrNoKey) {
				t.Fatalf("no key: %v", err)
			}
		})
	}
}

// assertCredsSealed checks the raw rows: every secret sealed with key id, no plaintext.
func assertCredsSealed(t *testing.T, raw switchboard.Store, id string, plains ...string) {
	t.Helper()
	cs, err := raw.ListTenantCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		for _, v := range []string{c.Secret, c.WebhookToken} {
			if v == "" {
				continue
			}
			if !strings.HasPrefix(v, "sbenc:v1:"+id+":") {
				t.Fatalf("tenant %s stores %q", c.Tenant, v)
			}
			for _, p := range plains {
				if strings.Contains(v, p) {
					t.Fatalf("tenant %s stores a plaintext secret", c.Tenant)
				}
			}
		}
	}
}
