package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRequestContentType: a JSON body is read without a Content-Type (a bare client) or as
// application/json (any parameters) or a +json type; any other type, such as the form type curl -d
// sends, is 415 unsupported_media_type telling to send application/json, and stores nothing
// (issue 15: the README's curl example got 400).
func TestRequestContentType(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, tc := range []struct {
		ctype  string
		status int
	}{
		{"", http.StatusAccepted},
		{"application/json", http.StatusAccepted},
		{"Application/JSON; charset=utf-8", http.StatusAccepted},
		{"application/vnd.switchboard+json", http.StatusAccepted},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/jsonp", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json; =", http.StatusUnsupportedMediaType},
	} {
		body := `{"to":"+14155550100","body":"Your invoice is ready","metadata":{"case":"` + string(rune('a'+i)) + `"}}`
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Content-Type %q: %d %s, want %d", tc.ctype, resp.StatusCode, raw, tc.status)
			continue
		}
		if tc.status == http.StatusUnsupportedMediaType {
			var p struct{ Code, Detail string }
			if json.Unmarshal(raw, &p) != nil || p.Code != "unsupported_media_type" || !strings.Contains(p.Detail, "Content-Type: application/json") ||
				resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("Content-Type %q: %s %s", tc.ctype, resp.Header.Get("Content-Type"), raw)
			}
		}
	}
	_, list, _ := f.do(t, http.MethodGet, "/v1/messages", "")
	if msgs, _ := list["messages"].([]any); len(msgs) != 4 {
		t.Errorf("%d messages stored, want the 4 sent as JSON", len(msgs))
	}
}
