package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/api"
)

// bodyRoutes are the routes that read a JSON body, with their path parameters filled in.
func bodyRoutes() []string {
	var out []string
	for _, r := range api.New(api.Config{}).Routes() {
		m, p, _ := strings.Cut(r, " ")
		if (m != "POST" && m != "PUT" && m != "PATCH") || strings.HasSuffix(p, "/import") {
			continue
		}
		out = append(out, m+" "+strings.NewReplacer("{id}", "x1", "{phone}", "%2B14155550100", "{from}", "%2B15005550006").Replace(p))
	}
	return out
}

// FuzzJSONBodies sends arbitrary bytes to every route that reads a JSON body: the answer is
// never a 5xx, and a refusal is problem+json.
func FuzzJSONBodies(f *testing.F) {
	for _, s := range []string{
		`{"to":"+14155550100","body":"hi"}`, `{"to":"+14155550100","to":"+14155550101"}`, `{"TO":"x"}`,
		"{\"body\":\"\xff\"}", `{"body":"\u0000"}`, `{"body":"\ud800"}`, `{"state":"opted_out","evidence":"form"}`,
		`{"url":"https://example.com/hook","event_types":["message.*"]}`, `{"code":"123456"}`, `{"to":"+14155550100","channel":"sms"}`,
		`{"metadata":{"a":"b","a":"c"}}`, `[]`, `null`, `1e999`, `{"to":{"$gt":""}}`, ``,
		`{"id":"acme","environment":"staging","allowed_recipients":["+14155550100"],"daily_spend_cents":9223372036854775807}`,
		`{"name":"app","role":"send","tenant":"acme"}`, `{"allowed_recipients":null,"daily_messages":-1}`,
		`{"from":"+15005550123","rate":-1,"pool":"x"}`, `{"rate":1e400}`, `{"burst":-5,"tenants":["A"]}`,
	} {
		for i := range bodyRoutes() {
			f.Add(uint8(i), []byte(s))
		}
	}
	fx := newFixture(f)
	routes := bodyRoutes()
	f.Fuzz(func(t *testing.T, i uint8, body []byte) {
		m, p, _ := strings.Cut(routes[int(i)%len(routes)], " ")
		req, _ := http.NewRequest(m, fx.srv.URL+p, strings.NewReader(string(body)))
		// A platform key, which every route allows: every body parser is reached.
		req.Header.Set("Authorization", "Bearer "+platformSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d", m, p, body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s %q: %d as %s", m, p, body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// FuzzCursors sends arbitrary cursors (pagination tokens) to every list: a 200 or a 400, never
// a 5xx.
func FuzzCursors(f *testing.F) {
	for _, s := range []string{"", "msg_01", "1767225600000000.conv_1", "-1.x", "x.", "\x00", "\xff", "' OR 1=1 --", strings.Repeat("9", 400), "9223372036854775807.a"} {
		f.Add(s)
	}
	fx := newFixture(f)
	lists := []string{"/v1/messages", "/v1/conversations", "/v1/conversations/conv_x/messages", "/v1/verifications/refusals", "/v1/endpoints/x1/dead-letters"}
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, p := range lists {
			req, _ := http.NewRequest("GET", fx.srv.URL+p+"?cursor="+url.QueryEscape(cursor), nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s cursor %q: %d", p, cursor, resp.StatusCode)
			}
		}
	})
}
