package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

var tenantCredentialTests = []test{
	{"PutGetListDelete", testCredentialsCRUD},
	{"Refusals", testCredentialsRefusals},
	{"ReplaceSecrets", testCredentialsReplace},
}

// sid makes a 34-character Twilio SID with prefix and a distinguishing digit.
func twilioSID(prefix string, n int) string { return fmt.Sprintf("%s%032d", prefix, n) }

func credTenant(t *testing.T, s switchboard.Store, id string) {
	t.Helper()
	tn := &switchboard.Tenant{ID: id, Name: id, Environment: switchboard.EnvProduction, StagingMode: switchboard.StagingAllowlist,
		CreatedAt: at(0), UpdatedAt: at(0)}
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant %s: %v", id, err)
	}
}

// testCredentialsCRUD: credentials round-trip whole (sealed strings as given), a second put
// replaces the first, the list is by tenant, and a delete removes them.
func testCredentialsCRUD(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	credTenant(t, s, "acme")
	wantErr(t, func() error { _, err := s.GetTenantCredentials(ctx, "acme"); return err }(), switchboard.ENOTFOUND, "credentials_not_found")
	a := &switchboard.TenantCredentials{Tenant: "acme", AccountSID: twilioSID("AC", 1), Kind: switchboard.CredentialToken,
		Secret: "sbenc:v1:k1:sealedtoken", ValidatedAt: at(time.Second), UpdatedAt: at(time.Second)}
	d := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: twilioSID("AC", 2), Kind: switchboard.CredentialAPIKey,
		APIKeySID: twilioSID("SK", 2), Secret: "plainsecret123", WebhookToken: "sbenc:v1:k1:hook", ValidatedAt: at(2 * time.Second), UpdatedAt: at(2 * time.Second)}
	for _, c := range []*switchboard.TenantCredentials{a, d} {
		if err := s.PutTenantCredentials(ctx, c); err != nil {
			t.Fatalf("put %s: %v", c.Tenant, err)
		}
	}
	got, err := s.GetTenantCredentials(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	// A second put replaces every field.
	a2 := &switchboard.TenantCredentials{Tenant: "acme", AccountSID: twilioSID("AC", 3), Kind: switchboard.CredentialAPIKey,
		APIKeySID: twilioSID("SK", 3), Secret: "sbenc:v1:k1:newsecret", ValidatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
	if err := s.PutTenantCredentials(ctx, a2); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTenantCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*switchboard.TenantCredentials{a2, d}, list); diff != "" {
		t.Fatalf("list (-want +got):\n%s", diff)
	}
	if err := s.DeleteTenantCredentials(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteTenantCredentials(ctx, "acme"), switchboard.ENOTFOUND, "credentials_not_found")
	if list, err = s.ListTenantCredentials(ctx); err != nil || len(list) != 1 || list[0].Tenant != switchboard.DefaultTenant {
		t.Fatalf("after delete: %v %+v", err, list)
	}
}

// testCredentialsRefusals: an unknown tenant is ENOTFOUND and an account already another
// tenant's is ECONFLICT, each changing nothing.
func testCredentialsRefusals(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	credTenant(t, s, "acme")
	c := &switchboard.TenantCredentials{Tenant: "nosuch", AccountSID: twilioSID("AC", 7), Kind: switchboard.CredentialToken,
		Secret: "token1234", ValidatedAt: at(0), UpdatedAt: at(0)}
	wantErr(t, s.PutTenantCredentials(ctx, c), switchboard.ENOTFOUND, "tenant_not_found")
	c.Tenant = switchboard.DefaultTenant
	if err := s.PutTenantCredentials(ctx, c); err != nil {
		t.Fatal(err)
	}
	other := *c
	other.Tenant, other.Secret = "acme", "token5678"
	wantErr(t, s.PutTenantCredentials(ctx, &other), switchboard.ECONFLICT, "account_in_use")
	wantErr(t, func() error { _, err := s.GetTenantCredentials(ctx, "acme"); return err }(), switchboard.ENOTFOUND, "credentials_not_found")
	if got, err := s.GetTenantCredentials(ctx, switchboard.DefaultTenant); err != nil || got.Secret != "token1234" {
		t.Fatalf("the refused put changed the first: %v %+v", err, got)
	}
}

// testCredentialsReplace: the stored secrets are swapped only while they are exactly the ones
// read; nothing else changes.
func testCredentialsReplace(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	c := &switchboard.TenantCredentials{Tenant: switchboard.DefaultTenant, AccountSID: twilioSID("AC", 9), Kind: switchboard.CredentialAPIKey,
		APIKeySID: twilioSID("SK", 9), Secret: "plainsecret1", WebhookToken: "plainhook1", ValidatedAt: at(0), UpdatedAt: at(0)}
	if err := s.PutTenantCredentials(ctx, c); err != nil {
		t.Fatal(err)
	}
	next := [2]string{"sbenc:v1:k2:a", "sbenc:v1:k2:b"}
	wantErr(t, s.ReplaceTenantSecrets(ctx, c.Tenant, [2]string{"plainsecret1", "other"}, next), switchboard.ECONFLICT, "secrets_changed")
	wantErr(t, s.ReplaceTenantSecrets(ctx, "nosuch", [2]string{"a", "b"}, next), switchboard.ENOTFOUND, "credentials_not_found")
	if err := s.ReplaceTenantSecrets(ctx, c.Tenant, [2]string{"plainsecret1", "plainhook1"}, next); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTenantCredentials(ctx, c.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := *c
	want.Secret, want.WebhookToken = next[0], next[1]
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Fatalf("after replace (-want +got):\n%s", diff)
	}
}
