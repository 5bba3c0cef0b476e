package web

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestSearchByMetadata: the messages search takes KEY=VALUE (a ticket number, a job ID) and lists
// the messages with exactly that metadata pair, on the page and in the CSV export; a KEY=VALUE
// without a key is refused with a message that says how to write it.
func TestSearchByMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	a := e.message(func(m *switchboard.Message) { m.Metadata = map[string]string{"ticket": "T-1042", "job_id": "1042"} })
	b := e.message(func(m *switchboard.Message) { m.Metadata = map[string]string{"ticket": "T-1043"} })
	d := e.message(func(m *switchboard.Message) { m.Metadata = map[string]string{"note": "x=y"} })
	for _, tc := range []struct {
		query      string
		want, not  []string
		wantStatus int
	}{
		{"q=" + url.QueryEscape("ticket=T-1042"), []string{a.ID}, []string{b.ID, d.ID}, 200},
		{"q=" + url.QueryEscape(" job_id = 1042 "), []string{a.ID}, []string{b.ID, d.ID}, 200},
		{"q=" + url.QueryEscape("note=x=y"), []string{d.ID}, []string{a.ID, b.ID}, 200},
		{"q=" + url.QueryEscape("ticket=T-104"), []string{"No message matches"}, []string{a.ID, b.ID}, 200},
		{"q=" + url.QueryEscape("ticket=T-1043") + "&status=canceled", []string{"No message matches"}, []string{b.ID}, 200},
		{"q=" + url.QueryEscape("ticket="+strings.Repeat("9", 100)), []string{"No message matches"}, nil, 200},
		{"q=" + url.QueryEscape("=1042"), []string{"KEY=VALUE"}, []string{a.ID}, 400},
		{"q=" + url.QueryEscape("k="+strings.Repeat("v", 600)), []string{"longer than"}, []string{a.ID}, 400},
	} {
		r := e.do(c, "GET", "/ui/messages?"+tc.query, nil)
		if r.status != tc.wantStatus {
			t.Errorf("%s: %d, want %d", tc.query, r.status, tc.wantStatus)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: page lacks %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, n) {
				t.Errorf("%s: page shows %q", tc.query, n)
			}
		}
	}
	r := e.do(c, "GET", "/ui/messages.csv?q="+url.QueryEscape("ticket=T-1043"), nil)
	if lines := strings.Split(strings.TrimSpace(r.body), "\n"); r.status != 200 || len(lines) != 2 || !strings.HasPrefix(lines[1], b.ID+",") {
		t.Fatalf("CSV of ticket=T-1043: %d %q", r.status, r.body)
	}
}

// TestCallsByMetadata: the calls page's metadata field (KEY=VALUE) lists the calls placed with
// that pair only; a field without a key is refused.
func TestCallsByMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	now := e.clock.now()
	mk := func(meta map[string]string) string {
		call := &switchboard.Call{ID: switchboard.NewID("call"), Status: switchboard.CallQueued, To: "+14155550177", From: testSender,
			Flow: "appointment", FlowVersion: 3, Token: switchboard.NewID("tok"), MaxAttempts: 2, CreatedAt: now, UpdatedAt: now, Metadata: meta}
		if _, _, err := e.store.CreateCall(t.Context(), call, nil); err != nil {
			t.Fatal(err)
		}
		return call.ID
	}
	a := mk(map[string]string{"ticket": "T-1042"})
	b := mk(map[string]string{"ticket": "T-1043"})
	for _, tc := range []struct {
		query      string
		want, not  []string
		wantStatus int
	}{
		{"", []string{a, b}, nil, 200},
		{"meta=" + url.QueryEscape("ticket=T-1042"), []string{a, `value="ticket=T-1042"`}, []string{b}, 200},
		{"meta=" + url.QueryEscape("ticket = T-1043"), []string{b}, []string{a}, 200},
		{"meta=" + url.QueryEscape("ticket=T-1"), []string{"No call with metadata ticket=T-1"}, []string{a, b}, 200},
		{"meta=" + url.QueryEscape("T-1042"), []string{"KEY=VALUE"}, []string{a}, 400},
	} {
		r := e.do(c, "GET", "/ui/calls?"+tc.query, nil)
		if r.status != tc.wantStatus {
			t.Errorf("%s: %d, want %d", tc.query, r.status, tc.wantStatus)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: page lacks %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, n) {
				t.Errorf("%s: page shows %q", tc.query, n)
			}
		}
	}
}

// TestVerificationsByMetadata: the verifications page's metadata field (KEY=VALUE, a plain GET
// form) lists the verifications started with that pair only, with the number and status filters
// too, keeps it in the next page's link, and never lists another tenant's (the session of a key
// of tenant default does not see acme's, acme's does not see default's); a field without a key is
// refused with how to write it.
func TestVerificationsByMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	now := e.clock.now()
	if err := e.store.CreateTenant(t.Context(), &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	mk := func(to, tenant string, meta map[string]string) string {
		v := &switchboard.Verification{ID: switchboard.NewID("ver"), Tenant: tenant, Status: switchboard.VerificationApproved, To: to,
			Channel: switchboard.VerifySMS, Backend: "builtin", CodeLength: 6, Sends: 1, MaxSends: 5, MaxChecks: 5,
			ExpiresAt: now.Add(10 * time.Minute), CreatedAt: now, UpdatedAt: now, Metadata: meta}
		if err := e.store.CreateVerification(t.Context(), v, nil); err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	a := mk("+14155550191", "", map[string]string{"ticket": "T-1042"})
	b := mk("+14155550192", "", map[string]string{"ticket": "T-1043"})
	theirs := mk("+14155550193", "acme", map[string]string{"ticket": "T-1042"})
	for _, tc := range []struct {
		query      string
		want, not  []string
		wantStatus int
	}{
		{"", []string{a, b, `name="meta"`}, []string{theirs}, 200},
		{"meta=" + url.QueryEscape("ticket=T-1042"), []string{a, `value="ticket=T-1042"`}, []string{b, theirs}, 200},
		{"meta=" + url.QueryEscape("ticket = T-1043"), []string{b}, []string{a, theirs}, 200},
		{"meta=" + url.QueryEscape("ticket=T-1042") + "&to=%2B14155550191&status=approved", []string{a}, []string{b, theirs}, 200},
		{"meta=" + url.QueryEscape("ticket=T-1042") + "&status=pending", []string{"No verification with metadata ticket=T-1042"}, []string{a, theirs}, 200},
		{"meta=" + url.QueryEscape("ticket=T-1"), []string{"No verification with metadata ticket=T-1"}, []string{a, b}, 200},
		{"meta=" + url.QueryEscape("T-1042"), []string{"KEY=VALUE"}, []string{a}, 400},
		{"meta=" + url.QueryEscape("k="+strings.Repeat("v", 513)), []string{"KEY=VALUE"}, []string{a}, 400},
	} {
		r := e.do(c, "GET", "/ui/verifications?"+tc.query, nil)
		if r.status != tc.wantStatus {
			t.Errorf("%s: %d, want %d", tc.query, r.status, tc.wantStatus)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: page lacks %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, n) {
				t.Errorf("%s: page shows %q", tc.query, n)
			}
		}
	}
	// A page of 50 and a link to the next, which keeps the pair.
	for i := range 50 {
		mk(fmt.Sprintf("+1415555%04d", 2000+i), "", map[string]string{"ticket": "T-1042"})
	}
	r := e.do(c, "GET", "/ui/verifications?meta="+url.QueryEscape("ticket=T-1042"), nil)
	next := regexp.MustCompile(`href="(/ui/verifications\?[^"]*)">Older verifications`).FindStringSubmatch(r.body)
	if next == nil || !strings.Contains(html.UnescapeString(next[1]), "meta=ticket%3DT-1042") {
		t.Fatalf("no next link with the pair: %v", next)
	}
	if r := e.do(c, "GET", html.UnescapeString(next[1]), nil); !strings.Contains(r.body, a) || strings.Contains(r.body, theirs) || strings.Contains(r.body, b) {
		t.Errorf("the next page of ticket=T-1042 lacks the oldest one or shows another pair or tenant")
	}

	// A session of tenant acme finds acme's verification by the pair, never the default tenant's.
	acme := e.client()
	if r := e.login(acme, url.Values{"api_key": {e.keyOf("acme", switchboard.RoleRead)}}); r.status != 303 {
		t.Fatalf("login: %d", r.status)
	}
	r = e.do(acme, "GET", "/ui/verifications?meta="+url.QueryEscape("ticket=T-1042"), nil)
	if r.status != 200 || !strings.Contains(r.body, theirs) || strings.Contains(r.body, a) {
		t.Errorf("acme's session by metadata: %d, shows acme's %v, the default tenant's %v", r.status, strings.Contains(r.body, theirs), strings.Contains(r.body, a))
	}
}
