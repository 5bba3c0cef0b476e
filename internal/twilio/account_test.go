package twilio

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestCheckAccountAndSyncAgainstSimulator: the credential check accepts a subaccount's token and
// its own API key, and refuses (credentials_rejected) a wrong token, a wrong secret, a key used
// for another account and a suspended account; an unreachable Twilio is provider_unreachable.
// SyncAccountWebhooks points every number of the account at the URL, and changes nothing the
// second time.
func TestCheckAccountAndSyncAgainstSimulator(t *testing.T) {
	t.Parallel()
	sub, token := "AC"+strings.Repeat("e", 32), "subtoken0123456789abcdef01234567"
	key, secret := "SK"+strings.Repeat("f", 32), "subkeysecret0123456789abcdef0123"
	sim := twiliosim.New(twiliosim.Config{Subaccounts: []twiliosim.SubaccountConfig{
		{SID: sub, AuthToken: token, Numbers: []string{"+15005550200", "+15005550201"}, APIKeys: map[string]string{key: secret}}}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	prov := func(acct, tok, k, s, base string) *Provider {
		p, _ := newTestProvider(t, base, func(c *Config) {
			c.AccountSID, c.AuthToken, c.APIKey, c.APISecret, c.Timeout = acct, tok, k, s, 2*time.Second
		})
		return p
	}
	for name, p := range map[string]*Provider{"token": prov(sub, token, "", "", srv.URL), "api key": prov(sub, "", key, secret, srv.URL)} {
		if err := p.CheckAccount(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, p := range map[string]*Provider{
		"wrong token":            prov(sub, "wrongtoken0123456789abcdef012345", "", "", srv.URL),
		"wrong secret":           prov(sub, "", key, "wrongsecret0123456789abcdef01234", srv.URL),
		"key of another account": prov(sim.AccountSID(), "", key, secret, srv.URL),
	} {
		err := p.CheckAccount(ctx)
		if switchboard.ErrorCodeOf(err) != "credentials_rejected" {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wrong")) {
			t.Errorf("%s: the error quotes the secret: %v", name, err)
		}
	}
	dead := httptest.NewServer(nil)
	dead.Close()
	if err := prov(sub, token, "", "", dead.URL).CheckAccount(ctx); switchboard.ErrorCodeOf(err) != "provider_unreachable" {
		t.Errorf("unreachable: %v", err)
	}

	p := prov(sub, "", key, secret, srv.URL)
	n, changed, err := p.SyncAccountWebhooks(ctx, "https://sb.example/webhooks/twilio/inbound")
	if err != nil || n != 2 || changed != 2 {
		t.Fatalf("sync: %d %d %v", n, changed, err)
	}
	for _, num := range sim.Numbers() {
		if num.AccountSID == sub && num.SMSURL != "https://sb.example/webhooks/twilio/inbound" {
			t.Fatalf("%s points at %q", num.PhoneNumber, num.SMSURL)
		}
		if num.AccountSID != sub && num.SMSURL != "" {
			t.Fatalf("the main account's %s was changed", num.PhoneNumber)
		}
	}
	if n, changed, err = p.SyncAccountWebhooks(ctx, "https://sb.example/webhooks/twilio/inbound"); err != nil || n != 2 || changed != 0 {
		t.Fatalf("second sync: %d %d %v", n, changed, err)
	}

	// A suspended subaccount's token no longer passes.
	main := prov(sim.AccountSID(), sim.AuthToken(), "", "", srv.URL)
	api, _ := main.api(ctx)
	if _, err := api.UpdateAccount(sub, updateStatus("suspended")); err != nil {
		t.Fatal(err)
	}
	if err := prov(sub, token, "", "", srv.URL).CheckAccount(ctx); switchboard.ErrorCodeOf(err) != "credentials_rejected" {
		t.Errorf("suspended: %v", err)
	}
}

func updateStatus(s string) *openapi.UpdateAccountParams {
	p := &openapi.UpdateAccountParams{}
	p.SetStatus(s)
	return p
}
