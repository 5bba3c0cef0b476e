package twiliosim_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func TestInboundWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	if _, err := e.sim.AddNumber(twiliosim.MagicFrom, rcv.srv.URL+"/webhooks/twilio/inbound"); err != nil {
		t.Fatal(err)
	}
	err := e.sim.Inbound(ctx(t), "+14155550123", twiliosim.MagicFrom, "STOP",
		"https://example.com/cat.png", "https://example.com/clip.mp4?x=1")
	if err != nil {
		t.Fatal(err)
	}
	got := rcv.all()
	if len(got) != 1 {
		t.Fatalf("%d webhooks, want 1", len(got))
	}
	in := got[0]
	if !in.SigValid {
		t.Errorf("inbound webhook signature invalid")
	}
	if in.Path != "/webhooks/twilio/inbound" || in.Token == "" {
		t.Errorf("path %s token %q", in.Path, in.Token)
	}
	sid := in.Params.Get("MessageSid")
	for k, v := range map[string]string{
		"SmsSid": sid, "SmsMessageSid": sid, "AccountSid": e.sim.AccountSID(),
		"From": "+14155550123", "To": twiliosim.MagicFrom, "Body": "STOP",
		"NumMedia": "2", "NumSegments": "1", "ApiVersion": "2010-04-01", "SmsStatus": "received",
		"MediaUrl0": "https://example.com/cat.png", "MediaContentType0": "image/png",
		"MediaUrl1": "https://example.com/clip.mp4?x=1", "MediaContentType1": "video/mp4",
	} {
		if in.Params.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, in.Params.Get(k), v)
		}
	}
	m, ok := e.sim.Message(sid)
	if !ok || m.Direction != "inbound" || m.Status != "received" || !strings.HasPrefix(sid, "MM") {
		t.Errorf("stored inbound message: %+v", m)
	}
}

func TestInboundControlAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)

	code, body := e.control(t, http.MethodPost, "/sim/v1/numbers",
		`{"number":"+14155550160","sms_url":"`+rcv.srv.URL+`/in"}`)
	if code != http.StatusCreated {
		t.Fatalf("add number: %d %s", code, body)
	}
	// Form bodies work too; an existing number is updated.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/sim/v1/numbers",
		strings.NewReader(url.Values{"number": {"+14155550160"}, "sms_url": {rcv.srv.URL + "/in2"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body := send(t, req); code != http.StatusOK {
		t.Fatalf("update number: %d %s", code, body)
	}

	code, body = e.control(t, http.MethodPost, "/sim/v1/inbound",
		`{"from":"+14155550123","to":"+14155550160","body":"hello","media_urls":["https://example.com/a.jpg"]}`)
	if code != http.StatusOK {
		t.Fatalf("inbound: %d %s", code, body)
	}
	var res twiliosim.InboundResult
	mustJSON(t, body, &res)
	if res.SID == "" || res.WebhookStatus != http.StatusOK {
		t.Errorf("inbound result %+v", res)
	}
	if got := rcv.all(); len(got) != 1 || got[0].Path != "/in2" || !got[0].SigValid || got[0].Params.Get("MediaContentType0") != "image/jpeg" {
		t.Errorf("webhook %+v", got)
	}

	// The application answers TwiML with a reply: the simulator sends it.
	rcv.mu.Lock()
	rcv.reply = `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks, see you at 5.</Message></Response>`
	rcv.mu.Unlock()
	code, body = e.control(t, http.MethodPost, "/sim/v1/inbound", `{"from":"+14155550123","to":"+14155550160","body":"See you at 5?"}`)
	if code != http.StatusOK {
		t.Fatalf("inbound with reply: %d %s", code, body)
	}
	mustJSON(t, body, &res)
	if len(res.Replies) != 1 {
		t.Fatalf("replies %v", res.Replies)
	}
	reply := waitStatus(t, e.sim, res.Replies[0], "delivered")
	if reply.Direction != "outbound-reply" || reply.To != "+14155550123" || reply.From != "+14155550160" || reply.Body != "Thanks, see you at 5." {
		t.Errorf("reply %+v", reply)
	}

	// A webhook answering 500 makes the control call answer 502 with the detail.
	rcv.mu.Lock()
	rcv.reply = ""
	rcv.answer = func(int, *http.Request) int { return http.StatusInternalServerError }
	rcv.mu.Unlock()
	code, body = e.control(t, http.MethodPost, "/sim/v1/inbound", `{"from":"+14155550123","to":"+14155550160","body":"x"}`)
	if code != http.StatusBadGateway || !strings.Contains(string(body), "500") {
		t.Errorf("failing webhook: %d %s", code, body)
	}
	err := e.sim.Inbound(ctx(t), "+14155550123", "+14155550160", "x")
	var we *twiliosim.WebhookError
	if !errors.As(err, &we) || we.StatusCode != http.StatusInternalServerError {
		t.Errorf("Inbound error %v", err)
	}

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"from":"+14155550123","to":"+14155550999","body":"x"}`, http.StatusNotFound},
		{`{"from":"+14155550123","body":"x"}`, http.StatusBadRequest},
		{`{"from":"+14155550123","to":"+14155550160"}`, http.StatusBadRequest},
		{`{"from":"+14155550123","to":"` + twiliosim.MagicFrom + `","body":"no sms_url"}`, http.StatusConflict},
		{`not json`, http.StatusBadRequest},
	} {
		if code, body := e.control(t, http.MethodPost, "/sim/v1/inbound", tc.body); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.body, code, body, tc.code)
		}
	}
}

func TestInboundGETWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	method := "GET"
	hookURL := rcv.srv.URL + "/in?tenant=1"
	code, body := e.control(t, http.MethodPost, "/sim/v1/numbers",
		`{"number":"+14155550161","sms_url":"`+hookURL+`","sms_method":"`+method+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("%d %s", code, body)
	}
	if err := e.sim.Inbound(ctx(t), "+14155550123", "+14155550161", "via GET"); err != nil {
		t.Fatal(err)
	}
	got := rcv.all()
	if len(got) != 1 || !got[0].SigValid || got[0].Params.Get("Body") != "via GET" || got[0].Params.Get("tenant") != "1" {
		t.Errorf("GET webhook %+v", got)
	}
}

// When the SmsUrl fails, the SmsFallbackUrl is requested with ErrorCode and ErrorUrl, and its
// TwiML is acted on; SMS webhooks carry the geographic parameters, WhatsApp ones WaId and
// ProfileName.
func TestInboundFallbackAndParameters(t *testing.T) {
	t.Parallel()
	const ours = "+14155550160"
	e := newEnv(t, twiliosim.Config{Numbers: []string{ours}})
	rcv := newReceiver(t, e.sim)
	rcv.answer = func(_ int, r *http.Request) int {
		if r.URL.Path == "/broken" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	rcv.reply = `<Response><Message>From the fallback</Message></Response>`
	rc := e.account(t)
	list, err := rc.Api.ListIncomingPhoneNumber((&api.ListIncomingPhoneNumberParams{}).SetPhoneNumber(ours))
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	up := (&api.UpdateIncomingPhoneNumberParams{}).SetSmsUrl(rcv.srv.URL + "/broken").SetSmsFallbackUrl(rcv.srv.URL + "/fallback")
	if _, err := rc.Api.UpdateIncomingPhoneNumber(*list[0].Sid, up); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inbound(ctx(t), "+447700900123", ours, "hello"); err != nil {
		t.Fatalf("inbound with a working fallback: %v", err)
	}
	got := rcv.all()
	if len(got) != 2 || got[0].Path != "/broken" || got[1].Path != "/fallback" || !got[1].SigValid {
		t.Fatalf("requests %+v", got)
	}
	fb := got[1].Params
	if fb.Get("ErrorCode") != "11200" || fb.Get("ErrorUrl") != rcv.srv.URL+"/broken" {
		t.Errorf("fallback ErrorCode/ErrorUrl %q %q", fb.Get("ErrorCode"), fb.Get("ErrorUrl"))
	}
	if fb.Get("FromCountry") != "GB" || fb.Get("ToCountry") != "US" || !fb.Has("FromCity") || !fb.Has("FromZip") || !fb.Has("ToState") {
		t.Errorf("geographic parameters: %v", fb)
	}
	if r := repliesTo(e.sim, "+447700900123"); len(r) != 1 || r[0].Body != "From the fallback" {
		t.Errorf("fallback TwiML not acted on: %+v", r)
	}

	if _, err := e.sim.AddNumber(ours, rcv.srv.URL+"/wa"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inbound(ctx(t), "whatsapp:+14155550123", "whatsapp:"+ours, "hi"); err != nil {
		t.Fatal(err)
	}
	wa := rcv.all()[2].Params
	if wa.Get("WaId") != "14155550123" || wa.Get("ProfileName") == "" {
		t.Errorf("WhatsApp parameters: %v", wa)
	}
}
