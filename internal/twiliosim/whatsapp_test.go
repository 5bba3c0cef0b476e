package twiliosim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// waEnv is a simulator whose MagicFrom posts inbound webhooks and status callbacks to rcv.
func waEnv(t *testing.T) (*env, *receiver) {
	t.Helper()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	if _, err := e.sim.AddNumber(twiliosim.MagicFrom, rcv.srv.URL+"/in"); err != nil {
		t.Fatal(err)
	}
	return e, rcv
}

// sendWA creates a WhatsApp message from MagicFrom; extra adds or overrides parameters.
func (e *env) sendWA(t *testing.T, rcv *receiver, to string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"To": {"whatsapp:" + to}, "From": {"whatsapp:" + twiliosim.MagicFrom},
		"Body": {"Your order shipped"}, "StatusCallback": {rcv.srv.URL + "/status"}}
	for k, v := range extra {
		form[k] = v
	}
	if _, ok := extra["Body"]; ok && extra.Get("Body") == "" {
		form.Del("Body")
	}
	code, body := e.do(t, http.MethodPost, e.messagesPath(), form)
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return code, v
}

// finalCallback waits for the status callback of sid with status and returns it.
func finalCallback(t *testing.T, rcv *receiver, sid, status string) received {
	t.Helper()
	var got received
	eventually(t, 5*time.Second, sid+" callback "+status, func() bool {
		for _, r := range rcv.forSID(sid) {
			if r.Params.Get("MessageStatus") == status {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

func TestWhatsAppWindow(t *testing.T) {
	t.Parallel()
	e, rcv := waEnv(t)
	const person = "+14155550177"

	// No window: created (201, queued) as on Twilio, then failed with 63016 in the callback.
	code, v := e.sendWA(t, rcv, person, nil)
	if code != http.StatusCreated || v["status"] != "queued" || v["to"] != "whatsapp:"+person {
		t.Fatalf("create outside the window = %d %v", code, v)
	}
	sid := v["sid"].(string)
	cb := finalCallback(t, rcv, sid, "failed")
	if cb.Params.Get("ErrorCode") != "63016" || !cb.SigValid || cb.Params.Get("To") != "whatsapp:"+person {
		t.Fatalf("failed callback = %v (signature valid %v)", cb.Params, cb.SigValid)
	}
	if m, _ := e.sim.Message(sid); m.ErrorCode != 63016 || !strings.Contains(m.ErrorMessage, "outside the allowed window") {
		t.Fatalf("message = %+v", m)
	}

	// The person writes: the window opens (control API with channel whatsapp); the same
	// free-form message is delivered, then read.
	code, body := e.control(t, http.MethodPost, "/sim/v1/inbound",
		`{"channel":"whatsapp","from":"`+person+`","to":"`+twiliosim.MagicFrom+`","body":"hi"}`)
	if code != http.StatusOK {
		t.Fatalf("inbound = %d %s", code, body)
	}
	in := rcv.all()
	if got := in[len(in)-1].Params; got.Get("From") != "whatsapp:"+person || got.Get("To") != "whatsapp:"+twiliosim.MagicFrom {
		t.Fatalf("inbound webhook From/To = %q/%q", got.Get("From"), got.Get("To"))
	}
	if !e.sim.WindowOpen(twiliosim.MagicFrom, person) {
		t.Fatal("window not open after an inbound WhatsApp message")
	}
	_, v = e.sendWA(t, rcv, person, nil)
	sid = v["sid"].(string)
	finalCallback(t, rcv, sid, "delivered")
	finalCallback(t, rcv, sid, "read")

	// SMS to the same person never opens or needs a window.
	if e.sim.WindowOpen(twiliosim.MagicFrom, "+14155550178") {
		t.Fatal("a window open without any message")
	}
}

func TestWhatsAppWindowClosesWithTheClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := &now
	e := newEnv(t, twiliosim.Config{Now: func() time.Time { return *clock }})
	if _, err := e.sim.AddNumber(twiliosim.MagicFrom, "http://127.0.0.1:1/none"); err != nil {
		t.Fatal(err)
	}
	_ = e.sim.Inbound(ctx(t), "whatsapp:+14155550179", "whatsapp:"+twiliosim.MagicFrom, "hello")
	if !e.sim.WindowOpen(twiliosim.MagicFrom, "+14155550179") {
		t.Fatal("window not open")
	}
	later := now.Add(24*time.Hour - time.Second)
	clock = &later
	if !e.sim.WindowOpen(twiliosim.MagicFrom, "+14155550179") {
		t.Fatal("window closed a second early")
	}
	end := now.Add(24 * time.Hour)
	clock = &end
	if e.sim.WindowOpen(twiliosim.MagicFrom, "+14155550179") {
		t.Fatal("window still open after 24 hours")
	}
}

func TestWhatsAppContentTemplates(t *testing.T) {
	t.Parallel()
	e, rcv := waEnv(t)
	const person = "+14155550180"
	// An unknown ContentSid is refused at create.
	code, v := e.sendWA(t, rcv, person, url.Values{"Body": {""}, "ContentSid": {"HX" + strings.Repeat("a", 32)}})
	if code != http.StatusBadRequest || v["code"] != float64(21655) {
		t.Fatalf("unknown content = %d %v", code, v)
	}
	// Registered through the control API; the template goes outside the window, its body
	// rendered from ContentVariables.
	code, body := e.control(t, http.MethodPost, "/sim/v1/content",
		`{"friendly_name":"order_shipped","language":"en","body":"Hi {{1}}, order {{2}} shipped","variables":{"1":"there","2":"?"}}`)
	if code != http.StatusCreated {
		t.Fatalf("register content = %d %s", code, body)
	}
	var c twiliosim.Content
	if err := json.Unmarshal(body, &c); err != nil || !regexp.MustCompile(`^HX[0-9a-f]{32}$`).MatchString(c.SID) {
		t.Fatalf("content %s: %v", body, err)
	}
	code, v = e.sendWA(t, rcv, person, url.Values{"Body": {""}, "ContentSid": {c.SID}, "ContentVariables": {`{"1":"Ann"}`}})
	if code != http.StatusCreated {
		t.Fatalf("template create = %d %v", code, v)
	}
	sid := v["sid"].(string)
	finalCallback(t, rcv, sid, "delivered")
	if m, _ := e.sim.Message(sid); m.Body != "Hi Ann, order ? shipped" || m.ContentSID != c.SID {
		t.Fatalf("template message = %+v", m)
	}
	// Malformed ContentVariables.
	code, v = e.sendWA(t, rcv, person, url.Values{"Body": {""}, "ContentSid": {c.SID}, "ContentVariables": {`["x"]`}})
	if code != http.StatusBadRequest || v["code"] != float64(21656) {
		t.Fatalf("bad variables = %d %v", code, v)
	}
	// A malformed registration is refused.
	if code, _ := e.control(t, http.MethodPost, "/sim/v1/content", `{"sid":"HX1","body":"x"}`); code != http.StatusBadRequest {
		t.Fatalf("bad sid registration = %d", code)
	}
}

func TestWhatsAppMagicNumbers(t *testing.T) {
	t.Parallel()
	e, rcv := waEnv(t)
	// Open the windows, so that only the scripted failure can happen.
	for _, n := range []string{twiliosim.WhatsAppNoAccount, twiliosim.WhatsAppRateLimited, twiliosim.WhatsAppNeverRead} {
		_ = e.sim.Inbound(ctx(t), "whatsapp:"+n, "whatsapp:"+twiliosim.MagicFrom, "hi")
	}
	for _, tc := range []struct{ to, code string }{
		{twiliosim.WhatsAppNoAccount, "63003"}, {twiliosim.WhatsAppRateLimited, "63018"},
	} {
		_, v := e.sendWA(t, rcv, tc.to, nil)
		cb := finalCallback(t, rcv, v["sid"].(string), "failed")
		if cb.Params.Get("ErrorCode") != tc.code {
			t.Errorf("%s: ErrorCode %q, want %s", tc.to, cb.Params.Get("ErrorCode"), tc.code)
		}
	}
	_, v := e.sendWA(t, rcv, twiliosim.WhatsAppNeverRead, nil)
	sid := v["sid"].(string)
	finalCallback(t, rcv, sid, "sent")
	// Once nothing is left to happen, it must still be sent.
	eventually(t, 5*time.Second, "the simulator to go idle", func() bool {
		st := e.sim.Stats()
		return st.PendingEvents == 0 && st.CallbackQueue == 0
	})
	if m, _ := e.sim.Message(sid); m.Status != "sent" {
		t.Fatalf("never-delivered number: status %s", m.Status)
	}
	// The same numbers by SMS are ordinary numbers.
	code, raw := e.do(t, http.MethodPost, e.messagesPath(), url.Values{"To": {twiliosim.WhatsAppNoAccount},
		"From": {twiliosim.MagicFrom}, "Body": {"x"}})
	if code != http.StatusCreated {
		t.Fatalf("SMS to a WhatsApp magic number = %d %s", code, raw)
	}
	waitStatus(t, e.sim, jsonField(t, raw, "sid"), "delivered")
}

func jsonField(t *testing.T, body []byte, key string) string {
	t.Helper()
	var v map[string]any
	mustJSON(t, body, &v)
	s, _ := v[key].(string)
	return s
}

func TestContentAPIMatchesTwilioOpenAPI(t *testing.T) {
	t.Parallel()
	spec := loadExcerpt(t, "twilio_content_v1.json")
	e := newEnv(t, twiliosim.Config{})
	c, err := e.sim.RegisterContent(twiliosim.Content{FriendlyName: "appointment", Language: "es",
		Body: "Hola {{1}}", Variables: map[string]string{"1": "Ana"}})
	if err != nil {
		t.Fatal(err)
	}
	code, body := e.do(t, http.MethodGet, "/v1/Content/"+c.SID, nil)
	if code != http.StatusOK {
		t.Fatalf("fetch content = %d %s", code, body)
	}
	schema := obj(t, spec, "paths", "/v1/Content/{Sid}", "get", "responses", "200", "content", "application/json", "schema")
	var v map[string]any
	mustJSON(t, body, &v)
	chk := &schemaChecker{t: t, patterns: map[string]*regexp.Regexp{}, root: spec}
	chk.check("GET /v1/Content/{Sid}", schema, v)
	for _, e := range chk.errs {
		t.Error(e)
	}
	types, _ := v["types"].(map[string]any)
	if text, _ := types["twilio/text"].(map[string]any); text["body"] != "Hola {{1}}" || v["language"] != "es" {
		t.Errorf("content = %s", body)
	}
	// Unknown SID: Twilio's 404; no credentials: 401.
	if code, _ := e.do(t, http.MethodGet, "/v1/Content/HX"+strings.Repeat("0", 32), nil); code != http.StatusNotFound {
		t.Errorf("unknown content = %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/Content/"+c.SID, nil)
	if code, _ := send(t, req); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated content fetch = %d", code)
	}
}
