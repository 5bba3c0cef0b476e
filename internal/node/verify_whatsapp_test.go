package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// verifyWACatalog holds the authentication template WhatsApp codes go with.
const verifyWACatalog = `- name: verify_code_whatsapp
  version: 1
  locale: en
  channel: whatsapp
  category: otp
  content_sid: HX4f1e2d3c4b5a69788796a5b4c3d2e1f0
  body: "{{code}} is your verification code."
  variables:
    code: {type: string, max_length: 10, example: "048213"}
`

const verifyWAContentSID = "HX4f1e2d3c4b5a69788796a5b4c3d2e1f0"

// startVerifyWANode starts a node whose builtin backend sends WhatsApp codes with
// verifyWACatalog.
func startVerifyWANode(t *testing.T, clock *fakeClock, env map[string]string, logger ...*slog.Logger) *testNode {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "verify.yaml"), []byte(verifyWACatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	e := map[string]string{"SWITCHBOARD_TEMPLATES_DIR": dir, "SWITCHBOARD_VERIFY_WHATSAPP_TEMPLATE": "verify_code_whatsapp"}
	for k, v := range env {
		e[k] = v
	}
	// The node registers the catalog's content templates in its simulator ({{code}} as {{1}}).
	o := nodeOpts{clock: clock.Now, env: e}
	if len(logger) > 0 {
		o.logger = logger[0]
	}
	return startNode(t, o)
}

// waCode reads the code of a WhatsApp otp message: the one variable of its content template,
// which must also be what the simulator got (ContentSid, and the body the simulator rendered
// from its content template and ContentVariables).
func waCode(t *testing.T, n *testNode, msgID, to string) string {
	t.Helper()
	m := n.waitStatus(t, msgID, 10*time.Second, switchboard.StatusDelivered, switchboard.StatusRead)
	if m.Channel != switchboard.ChannelWhatsApp || m.Category != switchboard.CategoryOTP || m.WhatsApp == nil ||
		m.WhatsApp.ContentSID != verifyWAContentSID || m.Template != "verify_code_whatsapp" {
		t.Fatalf("otp WhatsApp message: %+v %+v", m, m.WhatsApp)
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(m.WhatsApp.ContentVariables), &vars); err != nil || len(vars) != 1 || len(vars["1"]) != 6 {
		t.Fatalf("content variables %q: %v", m.WhatsApp.ContentVariables, err)
	}
	code := vars["1"]
	if !strings.Contains(m.Body, code) {
		t.Fatalf("free-form body %q lacks the code", m.Body)
	}
	var got *twiliosim.Message
	for _, s := range n.simByTo(to) {
		if s.SID == m.ProviderSID {
			got = &s
		}
	}
	if got == nil || got.To != "whatsapp:"+to || got.ContentSID != verifyWAContentSID || got.Body != code+" is your verification code." {
		t.Fatalf("simulator message %+v (provider sid %s)", got, m.ProviderSID)
	}
	return code
}

// TestVerifyWhatsAppBuiltin: channel whatsapp with the builtin backend sends the code as a
// WhatsApp content template through the outbox (outside the window: the person never wrote),
// the code checks, and a resend carries the same code.
func TestVerifyWhatsAppBuiltin(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := startVerifyWANode(t, clock, nil, logger)
	ctx := context.Background()
	const to = "+14155550470"
	v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: to, Channel: "whatsapp"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Channel != switchboard.VerifyWhatsApp || len(v.SendAttempts) != 1 || v.SendAttempts[0].MessageID == "" || v.FallbackAt != nil {
		t.Fatalf("started: %+v", v)
	}
	code := waCode(t, n, v.SendAttempts[0].MessageID, to)
	again, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: to, Channel: "whatsapp"})
	if err != nil || again.ID != v.ID || again.Sends != 2 {
		t.Fatalf("resend: %+v %v", again, err)
	}
	if c := waCode(t, n, again.SendAttempts[1].MessageID, to); c != code {
		t.Fatalf("resend sent %s, first %s", c, code)
	}
	if r, err := n.client.CheckVerification(ctx, v.ID, wrongCode(code)); err != nil || r.Valid {
		t.Fatalf("wrong code: %+v %v", r, err)
	}
	r, err := n.client.CheckVerification(ctx, v.ID, code)
	if err != nil || !r.Valid || r.Status != switchboard.VerificationApproved || r.Channel != switchboard.VerifyWhatsApp {
		t.Fatalf("right code: %+v %v", r, err)
	}
	// The code is in no log, metric or event (it lives in the otp message only).
	if strings.Contains(logs.String(), code) || !strings.Contains(logs.String(), v.ID) {
		t.Error("the code is in the logs, or the logs do not mention the verification")
	}
	metricsText := scrape(t, n)
	if strings.Contains(metricsText, code) ||
		!strings.Contains(metricsText, `switchboard_verifications_approved_total{channel="whatsapp",country="US"} 1`) {
		t.Errorf("metrics hold the code or miss the approval:\n%s", metricsText)
	}
	evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), code) {
			t.Errorf("event %s holds the code: %s", ev.Type, ev.Data)
		}
	}
	for _, s := range []string{v.SendAttempts[0].MessageID, again.SendAttempts[1].MessageID} {
		m, err := n.Store().GetMessage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m.Events {
			if strings.Contains(e.Detail, code) || strings.Contains(string(e.Payload), code) {
				t.Errorf("message %s timeline holds the code: %+v", m.ID, e)
			}
		}
	}

	// Inside the window the same message goes free form.
	n.whatsappIn(t, "+14155550471")
	w, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550471", Channel: "whatsapp"})
	if err != nil {
		t.Fatal(err)
	}
	m := n.waitStatus(t, w.SendAttempts[0].MessageID, 10*time.Second, switchboard.StatusDelivered, switchboard.StatusRead)
	sims := n.simByTo("+14155550471")
	if last := sims[len(sims)-1]; last.SID != m.ProviderSID || last.ContentSID != "" || last.Body != m.Body {
		t.Fatalf("inside the window: %+v for %+v", last, m)
	}
}

// TestVerifyWhatsAppNotEnabled: without verify_whatsapp_template, channel whatsapp of the
// builtin backend is 422 channel_not_enabled naming the setting, and nothing is stored or sent.
func TestVerifyWhatsAppNotEnabled(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
	n := startNode(t, nodeOpts{clock: clock.Now})
	ctx := context.Background()
	_, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550472", Channel: "whatsapp"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity || e.Code != "channel_not_enabled" ||
		!strings.Contains(e.Detail, "verify_whatsapp_template") {
		t.Fatalf("error = %v", err)
	}
	if got := n.simByTo("+14155550472"); len(got) != 0 {
		t.Fatalf("sent: %+v", got)
	}
	// A setting naming a template that is not a WhatsApp one with a content_sid is refused too.
	m := startVerifyWANode(t, clock, map[string]string{"SWITCHBOARD_VERIFY_WHATSAPP_TEMPLATE": "no_such_template"})
	_, err = m.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550472", Channel: "whatsapp"})
	if !errors.As(err, &e) || e.Code != "channel_not_enabled" || !strings.Contains(e.Detail, "no_such_template") {
		t.Fatalf("error = %v", err)
	}
}

// TestVerifyFallbackToWhatsApp: an SMS code that is not delivered falls back to WhatsApp when
// verify_fallback names it, with the same code.
func TestVerifyFallbackToWhatsApp(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
	n := startVerifyWANode(t, clock, map[string]string{"SWITCHBOARD_VERIFY_FALLBACK": "whatsapp,call"})
	ctx := context.Background()
	const to = "+14155550473"
	n.simControl(t, http.MethodPost, "/sim/v1/faults", map[string]any{"undelivered_ratio": 1})
	v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: to})
	if err != nil {
		t.Fatal(err)
	}
	if v.FallbackAt == nil {
		t.Fatalf("no fallback planned: %+v", v)
	}
	sms := n.waitStatus(t, v.SendAttempts[0].MessageID, 10*time.Second, switchboard.StatusUndelivered)
	n.simControl(t, http.MethodPost, "/sim/v1/faults", map[string]any{"undelivered_ratio": 0})
	clock.Add(5 * time.Second)
	var got *switchboard.Verification
	waitFor(t, 10*time.Second, "the WhatsApp fallback", func() bool {
		got, err = n.client.GetVerification(ctx, v.ID)
		if err != nil || len(got.SendAttempts) != 2 {
			return false
		}
		// The send is recorded first, the message put in the outbox right after.
		_, err := n.Store().GetMessage(ctx, got.SendAttempts[1].MessageID)
		return err == nil
	})
	send := got.SendAttempts[1]
	if send.Channel != switchboard.VerifyWhatsApp || !strings.HasPrefix(send.Reason, "fallback: the text was undelivered") || got.FallbackAt != nil {
		t.Fatalf("fallback: %+v", got)
	}
	code := waCode(t, n, send.MessageID, to)
	if !strings.Contains(sms.Body, code) {
		t.Fatalf("the fallback sent %s, the text was %q", code, sms.Body)
	}
	if r, err := n.client.CheckVerification(ctx, v.ID, code); err != nil || !r.Valid {
		t.Fatalf("check: %+v %v", r, err)
	}
}

// TestVerifyWhatsAppTwilio: with the twilio backend, channel whatsapp is passed to Twilio Verify
// (the simulator's verification is on whatsapp) and its code checks.
func TestVerifyWhatsAppTwilio(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_VERIFY_BACKEND": "twilio"}})
	ctx := context.Background()
	const to = "+14155550474"
	v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: to, Channel: "whatsapp"})
	if err != nil {
		t.Fatal(err)
	}
	sv := n.simVerification(t, to)
	if v.Channel != switchboard.VerifyWhatsApp || sv.SID != v.ProviderSID || sv.Channel != "whatsapp" {
		t.Fatalf("started %+v; simulator %+v", v, sv)
	}
	if r, err := n.client.CheckVerification(ctx, v.ID, sv.Code); err != nil || !r.Valid || r.Status != switchboard.VerificationApproved {
		t.Fatalf("check: %+v %v", r, err)
	}
}
