package twiliosig_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// TestReceiverCheck: a request signed for the public URL passes; a wrong or missing signature
// is 403, a signature for another host (the request's own Host) is 403, a malformed body is
// 400 and one over the cap is 413 — each answered by Check itself.
func TestReceiverCheck(t *testing.T) {
	t.Parallel()
	rc := &twiliosig.Receiver{AuthToken: "tok", PublicURL: "https://sb.example.com/", MaxBytes: 256}
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
	post := func(body, sig string) (*httptest.ResponseRecorder, bool) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/status?m=msg_1", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set(twiliosig.Header, sig)
		}
		rec := httptest.NewRecorder()
		return rec, rc.Check(rec, req)
	}
	good := twiliosig.Sign("tok", "https://sb.example.com/webhooks/twilio/status?m=msg_1", form)
	if rec, ok := post(form.Encode(), good); !ok || rec.Code != http.StatusOK {
		t.Fatalf("signed request: ok %v, %d", ok, rec.Code)
	}
	for name, tc := range map[string]struct {
		body, sig string
		want      int
	}{
		"missing":      {form.Encode(), "", http.StatusForbidden},
		"wrong key":    {form.Encode(), twiliosig.Sign("other", "https://sb.example.com/webhooks/twilio/status?m=msg_1", form), http.StatusForbidden},
		"request host": {form.Encode(), twiliosig.Sign("tok", "http://example.com/webhooks/twilio/status?m=msg_1", form), http.StatusForbidden},
		"tampered":     {form.Encode() + "&x=1", good, http.StatusForbidden},
		"malformed":    {"%zz", good, http.StatusBadRequest},
		"too large":    {"Body=" + strings.Repeat("a", 300), good, http.StatusRequestEntityTooLarge},
	} {
		if rec, ok := post(tc.body, tc.sig); ok || rec.Code != tc.want {
			t.Errorf("%s: ok %v, %d, want refused with %d", name, ok, rec.Code, tc.want)
		}
	}
}
