package twiliosig_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// TestReceiverTokensByAccount: a webhook naming a tenant's account is checked with that
// account's token only (the node's token does not pass it); an account whose token is unknown
// ("") refuses everything, an empty-key signature included; other accounts use AuthToken.
func TestReceiverTokensByAccount(t *testing.T) {
	t.Parallel()
	const node, tenant = "nodetoken", "tenanttoken"
	rc := &twiliosig.Receiver{AuthToken: node, PublicURL: "https://sb.example", MaxBytes: 1 << 16,
		Tokens: func(acct string) (string, bool) {
			switch acct {
			case "ACtenant":
				return tenant, true
			case "ACkeyonly":
				return "", true
			}
			return "", false
		}}
	check := func(acct, token string) int {
		form := url.Values{"AccountSid": {acct}, "MessageSid": {"SM1"}, "MessageStatus": {"sent"}}
		r := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/status", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(twiliosig.Header, twiliosig.Sign(token, "https://sb.example/webhooks/twilio/status", form))
		w := httptest.NewRecorder()
		if rc.Check(w, r) {
			return http.StatusOK
		}
		return w.Code
	}
	for _, c := range []struct {
		acct, token string
		want        int
	}{
		{"ACtenant", tenant, 200}, {"ACtenant", node, 403}, {"ACkeyonly", "", 403}, {"ACkeyonly", node, 403},
		{"ACnode", node, 200}, {"ACnode", tenant, 403}, {"", node, 200},
	} {
		if got := check(c.acct, c.token); got != c.want {
			t.Errorf("account %q signed with %q: %d, want %d", c.acct, c.token, got, c.want)
		}
	}
}
