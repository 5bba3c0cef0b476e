package web

import (
	"net/url"
	"strings"
	"testing"

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
