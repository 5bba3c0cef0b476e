package switchboard_test

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// FuzzTenantCredentialsValidate: whatever a PUT /v1/tenants/{id}/credentials carries, Validate
// never panics, accepts only Twilio-shaped SIDs and secrets of letters and digits, and its error
// never quotes a secret.
func FuzzTenantCredentialsValidate(f *testing.F) {
	f.Add("AC"+strings.Repeat("a", 32), "token", "", "tokentoken123", "")
	f.Add("AC"+strings.Repeat("a", 32), "api_key", "SK"+strings.Repeat("b", 32), "secretsecret", "hooktoken123")
	f.Add("SK123", "api_key", "AC1", "se\ncret", "x y")
	f.Fuzz(func(t *testing.T, account, kind, keySID, secret, hook string) {
		c := &switchboard.TenantCredentials{Tenant: "acme", AccountSID: account, Kind: switchboard.CredentialKind(kind), APIKeySID: keySID, Secret: secret, WebhookToken: hook}
		err := c.Validate()
		if err != nil {
			if switchboard.ErrorCodeOf(err) != "invalid_credentials" {
				t.Fatalf("code %q", switchboard.ErrorCodeOf(err))
			}
			msg := err.Error()
			for _, s := range []string{secret, hook} {
				if len(s) >= 4 && strings.Contains(msg, s) && !strings.Contains("auth_token api_key_secret must be 8 to 128 letters or digits (check for quotes, spaces or a trailing newline) account_sid api_key_sid auth_kind token", s) {
					t.Fatalf("the error quotes a secret: %q", msg)
				}
			}
			return
		}
		if len(account) != 34 || !strings.HasPrefix(account, "AC") || len(secret) < 8 || strings.ContainsAny(secret+hook, " \n\t\"'") {
			t.Fatalf("accepted %+v", c)
		}
		if c.Kind == switchboard.CredentialAPIKey && !strings.HasPrefix(keySID, "SK") {
			t.Fatalf("accepted an API key SID %q", keySID)
		}
	})
}
