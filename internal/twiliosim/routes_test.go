package twiliosim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// The router answers as Twilio does around its routes: 405/20004 for a known path with another
// method (after authentication), 404/20404 for a resource path without ".json" or an unknown one;
// the control API ignores a trailing slash.
func TestRouterAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	acct := "/2010-04-01/Accounts/" + e.sim.AccountSID()
	for _, tc := range []struct {
		method, path string
		status, code int
	}{
		{http.MethodPut, "/v2/Services", 405, 20004},
		{http.MethodPatch, acct + "/Calls/CA" + strings.Repeat("0", 32) + ".json", 405, 20004},
		{http.MethodGet, acct + "/Messages/SM" + strings.Repeat("0", 32), 404, 20404},
		{http.MethodGet, acct + "/Messages/.json", 404, 20404},
		{http.MethodGet, "/v3/Nothing", 404, 20404},
		{http.MethodGet, "/2010-04-01/Accounts/AC" + strings.Repeat("1", 32) + "/Messages.json", 404, 20404},
	} {
		code, body := e.do(t, tc.method, tc.path, nil)
		if code != tc.status || twilioCode(t, code, body) != tc.code {
			t.Errorf("%s %s: %d %s, want %d/%d", tc.method, tc.path, code, body, tc.status, tc.code)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/v2/Services", nil)
	if code, _ := send(t, req); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated PUT = %d, want 401 before 405", code)
	}
	if code, body := e.control(t, http.MethodGet, "/sim/v1/messages/", ""); code != http.StatusOK {
		t.Errorf("control API with a trailing slash: %d %s", code, body)
	}
	if code, body := e.control(t, http.MethodGet, "/sim/v1/nope", ""); code != http.StatusNotFound || !strings.Contains(string(body), "no such control endpoint") {
		t.Errorf("unknown control endpoint: %d %s", code, body)
	}
}
