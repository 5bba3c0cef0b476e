package voice_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// TestWebhookRoutes: the voice webhooks are ServeMux method patterns — another method answers
// 405 with Allow: POST, a path outside {token}/{kind} 404 — and a signed request for an unknown
// call answers the not-found error's status through switchboard.HTTPStatusOf.
func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 100)
	h := e.svc.Handler()
	for _, path := range []string{voice.WebhookPath + "tok/status", voice.WebhookPath + "tok/answer"} {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path+"?s=0", nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
				t.Errorf("%s %s: %d Allow %q, want 405 with Allow: POST", method, path, rec.Code, rec.Header().Get("Allow"))
			}
		}
	}
	for _, path := range []string{voice.WebhookPath + "tok", voice.WebhookPath + "tok/answer/more"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, rec.Code)
		}
	}
	form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}}
	path := voice.WebhookPath + "no-such-token/status"
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosig.Header, twiliosig.Sign("token", "https://sb.example.com"+path, form))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("signed status of an unknown call: %d %s, want 404", rec.Code, rec.Body)
	}
	// The initiated event's CallStatus=initiated is a status the webhook knows (it was refused
	// 400, and Twilio does not retry a 4xx): it reaches the call lookup like any other.
	initiated := url.Values{"CallSid": {"CA1"}, "CallStatus": {"initiated"}}
	req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(initiated.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosig.Header, twiliosig.Sign("token", "https://sb.example.com"+path, initiated))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("signed initiated status of an unknown call: %d %s, want 404", rec.Code, rec.Body)
	}
	req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("unsigned status: %d, want 403", rec.Code)
	}
}
