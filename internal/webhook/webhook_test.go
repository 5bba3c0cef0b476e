package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

const (
	token  = "simtoken123"
	public = "https://sms.example.com"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t testing.TB) (switchboard.Store, http.Handler, *switchboard.Message) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := &switchboard.Message{
		ID: "msg_1", Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional,
		To: "+14155550100", From: "+15005550006", Body: "hi", Segments: 1, Encoding: switchboard.EncodingGSM7,
		NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
	}
	if _, _, err := db.CreateMessage(context.Background(), m, nil); err != nil {
		t.Fatal(err)
	}
	sid := "SM" + strings.Repeat("a", 32)
	sending := true
	if _, err := db.UpdateMessage(context.Background(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, ProviderSID: &sid, AttemptInFlight: &sending, At: t0}); err != nil {
		t.Fatal(err)
	}
	h := webhook.New(webhook.Config{Store: db, AuthToken: token, PublicURL: public, Clock: func() time.Time { return t0 }})
	return db, h, m
}

func statusForm(status string) url.Values {
	return url.Values{
		"MessageSid": {"SM" + strings.Repeat("a", 32)}, "SmsSid": {"SM" + strings.Repeat("a", 32)},
		"MessageStatus": {status}, "SmsStatus": {status}, "AccountSid": {"AC" + strings.Repeat("0", 32)},
		"From": {"+15005550006"}, "To": {"+14155550100"}, "ApiVersion": {"2010-04-01"},
	}
}

func post(h http.Handler, path string, form url.Values, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Host = "attacker.example" // must not matter: the public URL is configured
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set(twiliosig.Header, sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestStatusCallbackApplied(t *testing.T) {
	t.Parallel()
	db, h, m := setup(t)
	form := statusForm("delivered")
	path := webhook.StatusPath + "?m=" + m.ID
	rec := post(h, path, form, twiliosig.Sign(token, public+path, form))
	if rec.Code/100 != 2 {
		t.Fatalf("valid callback: %d %s", rec.Code, rec.Body)
	}
	got, _ := db.GetMessage(context.Background(), m.ID)
	if got.Status != switchboard.StatusDelivered {
		t.Fatalf("status %s", got.Status)
	}
	// A duplicate and an older status change nothing.
	rec = post(h, path, form, twiliosig.Sign(token, public+path, form))
	sent := statusForm("sent")
	rec2 := post(h, path, sent, twiliosig.Sign(token, public+path, sent))
	if rec.Code/100 != 2 || rec2.Code/100 != 2 {
		t.Fatalf("duplicate/late callbacks: %d %d", rec.Code, rec2.Code)
	}
	got, _ = db.GetMessage(context.Background(), m.ID)
	if got.Status != switchboard.StatusDelivered {
		t.Fatalf("late 'sent' moved the status back to %s", got.Status)
	}
}

func TestBadSignaturesStoreNothing(t *testing.T) {
	t.Parallel()
	db, h, m := setup(t)
	form := statusForm("delivered")
	path := webhook.StatusPath + "?m=" + m.ID
	good := twiliosig.Sign(token, public+path, form)
	before, _ := db.GetMessage(context.Background(), m.ID)
	tampered := statusForm("delivered")
	tampered.Set("MessageStatus", "failed")
	cases := map[string]func() *httptest.ResponseRecorder{
		"missing": func() *httptest.ResponseRecorder { return post(h, path, form, "") },
		"forged": func() *httptest.ResponseRecorder {
			return post(h, path, form, twiliosig.Sign("othertoken", public+path, form))
		},
		"tampered body":  func() *httptest.ResponseRecorder { return post(h, path, tampered, good) },
		"tampered query": func() *httptest.ResponseRecorder { return post(h, webhook.StatusPath+"?m=msg_other", form, good) },
		"host header url": func() *httptest.ResponseRecorder {
			return post(h, path, form, twiliosig.Sign(token, "http://attacker.example"+path, form))
		},
		"inbound forged": func() *httptest.ResponseRecorder {
			in := url.Values{"MessageSid": {"SM" + strings.Repeat("b", 32)}, "From": {"+14155550100"}, "To": {"+15005550006"}, "Body": {"STOP"}}
			return post(h, webhook.InboundPath, in, "bm90IGEgc2lnbmF0dXJl")
		},
	}
	for name, do := range cases {
		if rec := do(); rec.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, rec.Code)
		}
	}
	got, _ := db.GetMessage(context.Background(), m.ID)
	if got.Status != switchboard.StatusSending || len(got.Events) != len(before.Events) {
		t.Fatalf("a refused callback changed the message: %s, %d events", got.Status, len(got.Events))
	}
	ins, _, _ := db.ListInbound(context.Background(), switchboard.InboundFilter{Limit: 10})
	if len(ins) != 0 {
		t.Fatal("a refused inbound webhook was stored")
	}
}

func TestInboundStoredOnce(t *testing.T) {
	t.Parallel()
	db, h, _ := setup(t)
	in := url.Values{
		"MessageSid": {"SM" + strings.Repeat("c", 32)}, "AccountSid": {"AC" + strings.Repeat("0", 32)},
		"From": {"+14155550100"}, "To": {"+15005550006"}, "Body": {"Running late"}, "NumMedia": {"0"},
	}
	sig := twiliosig.Sign(token, public+webhook.InboundPath, in)
	for range 2 {
		if rec := post(h, webhook.InboundPath, in, sig); rec.Code != 200 || !strings.Contains(rec.Body.String(), "<Response>") {
			t.Fatalf("inbound: %d %s", rec.Code, rec.Body)
		}
	}
	ins, _, err := db.ListInbound(context.Background(), switchboard.InboundFilter{Limit: 10})
	if err != nil || len(ins) != 1 || ins[0].Body != "Running late" {
		t.Fatalf("inbound stored: %v %+v", err, ins)
	}
}

// FuzzWebhook: arbitrary bodies, signed or not, never crash the ingress, never answer 5xx, and
// unsigned ones are always refused.
func FuzzWebhook(f *testing.F) {
	f.Add("MessageSid=SM1&MessageStatus=delivered", true)
	f.Add("MessageSid=&MessageStatus=", true)
	f.Add("%zz=1&&&=", false)
	f.Add("MessageSid=SMx&MessageStatus=bogus&ErrorCode=abc", true)
	_, h, _ := setup(f)
	f.Fuzz(func(t *testing.T, body string, sign bool) {
		for _, path := range []string{webhook.StatusPath, webhook.InboundPath} {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			signed := false
			if form, err := url.ParseQuery(body); err == nil && sign {
				req.Header.Set(twiliosig.Header, twiliosig.Sign(token, public+path, form))
				signed = true
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: %d for %q", path, rec.Code, body)
			}
			if !signed && rec.Code != http.StatusForbidden && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: unsigned request got %d", path, rec.Code)
			}
		}
	})
}

// TestWrongMethodIs405WithAllow: every webhook route is a ServeMux method pattern, so another
// method answers 405 with Allow: POST (and stores nothing), and an unknown path 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	_, h, _ := setup(t)
	for _, path := range []string{webhook.StatusPath, webhook.InboundPath} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
				t.Errorf("%s %s: %d Allow %q, want 405 with Allow: POST", method, path, rec.Code, rec.Header().Get("Allow"))
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/twilio/nothing", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST to an unknown webhook path: %d, want 404", rec.Code)
	}
}
