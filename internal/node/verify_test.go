package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

var otpCode = regexp.MustCompile(`\b(\d{4,10})\b`)

// smsCodes returns the codes the simulated phone to received by SMS, oldest first.
func (n *testNode) smsCodes(t *testing.T, to string) []string {
	t.Helper()
	var out []string
	for _, m := range n.simMessages(t) {
		if m.To == to {
			if c := otpCode.FindStringSubmatch(m.Body); c != nil {
				out = append(out, c[1])
			}
		}
	}
	return out
}

func (n *testNode) waitSMSCodes(t *testing.T, to string, count int) []string {
	t.Helper()
	var codes []string
	waitFor(t, 10*time.Second, "the code to reach "+to, func() bool {
		codes = n.smsCodes(t, to)
		return len(codes) >= count
	})
	return codes
}

// simVerification reads what the simulated Twilio Verify holds for to.
func (n *testNode) simVerification(t *testing.T, to string) twiliosim.Verification {
	t.Helper()
	var out struct {
		Verifications []twiliosim.Verification `json:"verifications"`
	}
	if err := json.Unmarshal(n.simControl(t, http.MethodGet, "/sim/v1/verifications?to="+strings.ReplaceAll(to, "+", "%2B"), nil), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Verifications) == 0 {
		t.Fatalf("the simulator holds no verification to %s", to)
	}
	return out.Verifications[len(out.Verifications)-1]
}

func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func apiCode(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// codeOf returns the code a verification sent, from the simulated phone: its texts with the
// builtin backend, its Verify verification with Twilio.
func codeOf(t *testing.T, n *testNode, backend string, v *switchboard.Verification, sends int) string {
	t.Helper()
	if backend == "builtin" {
		codes := n.waitSMSCodes(t, v.To, sends)
		for _, c := range codes[1:] {
			if c != codes[0] {
				t.Fatalf("the resends carried other codes: %v", codes)
			}
		}
		return codes[0]
	}
	sv := n.simVerification(t, v.To)
	if sv.SID != v.ProviderSID || sv.Sends != sends {
		t.Fatalf("simulator verification %+v for %+v (%d sends)", sv, v, sends)
	}
	return sv.Code
}

// TestVerifyEndToEnd runs verifications through the node and the simulator with both backends:
// start, code received, resend of the same code, wrong code, approval; wrong codes up to
// max_attempts_reached; expiry by the injected clock.
func TestVerifyEndToEnd(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"builtin", "twilio"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
			n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_VERIFY_BACKEND": backend}})
			ctx := context.Background()

			v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550400", UserRef: "u-1", ClientIP: "203.0.113.4"})
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != switchboard.VerificationPending || v.Backend != backend || (backend == "twilio") != strings.HasPrefix(v.ProviderSID, "VE") {
				t.Fatalf("started: %+v", v)
			}
			first := codeOf(t, n, backend, v, 1)
			again, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550400"})
			if err != nil || again.ID != v.ID || again.Sends != 2 {
				t.Fatalf("resend: %+v %v", again, err)
			}
			if code := codeOf(t, n, backend, again, 2); code != first {
				t.Fatalf("resend sent %s, first %s", code, first)
			}
			r, err := n.client.CheckVerification(ctx, v.ID, wrongCode(first))
			if err != nil || r.Valid || r.Status != switchboard.VerificationPending {
				t.Fatalf("wrong code: %+v %v", r, err)
			}
			r, err = n.client.CheckVerification(ctx, v.ID, first)
			if err != nil || !r.Valid || r.Status != switchboard.VerificationApproved {
				t.Fatalf("right code: %+v %v", r, err)
			}
			if _, err := n.client.CheckVerification(ctx, v.ID, first); apiCode(err) != "verification_not_pending" {
				t.Fatalf("check after approval: %v", err)
			}

			// Wrong codes up to max_attempts_reached.
			w, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550401"})
			if err != nil {
				t.Fatal(err)
			}
			code := codeOf(t, n, backend, w, 1)
			for i := 1; i <= 4; i++ {
				if r, err := n.client.CheckVerification(ctx, w.ID, wrongCode(code)); err != nil || r.Status != switchboard.VerificationPending {
					t.Fatalf("wrong code %d: %+v %v", i, r, err)
				}
			}
			if _, err := n.client.CheckVerification(ctx, w.ID, wrongCode(code)); apiCode(err) != "max_attempts_reached" {
				t.Fatalf("fifth wrong code: %v", err)
			}
			if got, _ := n.client.GetVerification(ctx, w.ID); got.Status != switchboard.VerificationMaxAttemptsReached {
				t.Fatalf("after five wrong codes: %+v", got)
			}

			// Expiry by the injected clock.
			e, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550402"})
			if err != nil {
				t.Fatal(err)
			}
			code = codeOf(t, n, backend, e, 1)
			clock.Add(10*time.Minute + time.Second)
			if got, _ := n.client.GetVerification(ctx, e.ID); got.Status != switchboard.VerificationExpired {
				t.Fatalf("after 10 minutes: %+v", got)
			}
			if _, err := n.client.CheckVerification(ctx, e.ID, code); apiCode(err) != "verification_not_pending" {
				t.Fatalf("check after expiry: %v", err)
			}
			if backend == "twilio" {
				if sv := n.simVerification(t, e.To); sv.Status != "expired" {
					t.Fatalf("the simulator's verification: %+v", sv)
				}
			}

			// Events: started ×3, approved, failed ×2 (max attempts, expired); no code in any.
			evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{
				switchboard.AppVerificationStarted, switchboard.AppVerificationApproved, switchboard.AppVerificationFailed}, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			count := map[switchboard.AppEventType]int{}
			for _, ev := range evs {
				count[ev.Type]++
			}
			if count[switchboard.AppVerificationStarted] != 3 || count[switchboard.AppVerificationApproved] != 1 || count[switchboard.AppVerificationFailed] != 2 {
				t.Fatalf("events: %v", count)
			}
		})
	}
}

// recordingCaller is the voice part of the node as the verification service sees it.
type recordingCaller struct {
	mu    sync.Mutex
	twiml []string
}

func (c *recordingCaller) Call(_ context.Context, to, from, twiml string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.twiml = append(c.twiml, twiml)
	return "CA00000000000000000000000000000001", nil
}

func (c *recordingCaller) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.twiml...)
}

// TestVerifyFallbackToVoice: the simulator withholds delivery (the text ends undelivered with
// 30003, or no receipt ever comes) and the code moves to a voice call reading the same code.
func TestVerifyFallbackToVoice(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		faults  map[string]any
		advance time.Duration
	}{
		{"undelivered", map[string]any{"undelivered_ratio": 1, "undelivered_code": 30003}, 5 * time.Second},
		{"no_receipt", map[string]any{"callback_drop_ratio": 1}, 61 * time.Second},
		// The node's own caller: the simulator's Calls API places the call and its callee hears it.
		{"simulated_call", map[string]any{"undelivered_ratio": 1, "undelivered_code": 30003}, 5 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
			caller := &recordingCaller{}
			opts := nodeOpts{clock: clock.Now, verifyCaller: caller}
			if c.name == "simulated_call" {
				opts.verifyCaller = nil
			}
			n := startNode(t, opts)
			n.simControl(t, http.MethodPost, "/sim/v1/faults", c.faults)
			ctx := context.Background()
			v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550410", Locale: "en"})
			if err != nil {
				t.Fatal(err)
			}
			code := n.waitSMSCodes(t, v.To, 1)[0]
			msgID := v.SendAttempts[0].MessageID
			if c.name == "simulated_call" {
				n.waitStatus(t, msgID, 10*time.Second, switchboard.StatusUndelivered)
				clock.Add(c.advance)
				spaced := strings.Join(strings.Split(code, ""), ", ")
				waitFor(t, 20*time.Second, "the simulated callee to hear the code", func() bool {
					var out struct {
						Calls []struct {
							To    string   `json:"to"`
							Heard []string `json:"heard"`
						} `json:"calls"`
					}
					_ = json.Unmarshal(n.simControl(t, http.MethodGet, "/sim/v1/calls", nil), &out)
					for _, sc := range out.Calls {
						if sc.To == v.To && strings.Contains(strings.Join(sc.Heard, " "), spaced) {
							return true
						}
					}
					return false
				})
				if r, err := n.client.CheckVerification(ctx, v.ID, code); err != nil || !r.Valid {
					t.Fatalf("the code read by the call: %+v %v", r, err)
				}
				return
			}
			if c.name == "undelivered" {
				n.waitStatus(t, msgID, 10*time.Second, switchboard.StatusUndelivered)
			} else {
				waitFor(t, 10*time.Second, "the simulator to deliver without a receipt", func() bool {
					for _, m := range n.simMessages(t) {
						if m.To == v.To && m.Status == "delivered" {
							return true
						}
					}
					return false
				})
				time.Sleep(1500 * time.Millisecond) // the worker looks once more: still no receipt, no call
				if len(caller.calls()) != 0 {
					t.Fatal("called before fallback_after")
				}
			}
			clock.Add(c.advance)
			waitFor(t, 10*time.Second, "the fallback call", func() bool { return len(caller.calls()) > 0 })
			calls := caller.calls()
			if len(calls) != 1 || !strings.Contains(calls[0], strings.Join(strings.Split(code, ""), ", ")) {
				t.Fatalf("calls: %q (code %s)", calls, code)
			}
			var got *switchboard.Verification
			waitFor(t, 10*time.Second, "the call's ID on the verification", func() bool {
				got, _ = n.client.GetVerification(ctx, v.ID)
				return len(got.SendAttempts) == 2 && got.SendAttempts[1].CallID != ""
			})
			if got.Channel != switchboard.VerifyCall || !strings.Contains(got.SendAttempts[1].Reason, "fallback") {
				t.Fatalf("after fallback: %+v", got)
			}
			if r, err := n.client.CheckVerification(ctx, v.ID, code); err != nil || !r.Valid {
				t.Fatalf("the code read by the call: %+v %v", r, err)
			}
		})
	}
}

// TestVerifyCodeNeverLogged runs a full verification (wrong code, resend, fallback call,
// approval) with debug logging and checks that the code appears in no log line, no metric and
// no stored event: neither the event log nor the timeline of the otp message (whose body alone
// must hold it, to be sent).
func TestVerifyCodeNeverLogged(t *testing.T) {
	t.Parallel()
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := newFakeClock(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
	caller := &recordingCaller{}
	// A 10-digit code cannot turn up by chance among the numbers of the metrics and logs.
	n := startNode(t, nodeOpts{clock: clock.Now, logger: logger, verifyCaller: caller, env: map[string]string{"SWITCHBOARD_VERIFY_CODE_LENGTH": "10"}})
	ctx := context.Background()
	v, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550420", UserRef: "u-7", ClientIP: "192.0.2.44"})
	if err != nil {
		t.Fatal(err)
	}
	code := n.waitSMSCodes(t, v.To, 1)[0]
	if len(code) != 10 {
		t.Fatalf("code %q", code)
	}
	first := n.waitStatus(t, v.SendAttempts[0].MessageID, 10*time.Second, switchboard.StatusDelivered)
	if first.Category != switchboard.CategoryOTP || !strings.Contains(first.Body, code) {
		t.Fatalf("otp message: %+v", first)
	}
	if _, err := n.client.CheckVerification(ctx, v.ID, wrongCode(code)); err != nil {
		t.Fatal(err)
	}
	// A resend whose text is never delivered falls back to a call.
	n.simControl(t, http.MethodPost, "/sim/v1/faults", map[string]any{"undelivered_ratio": 1})
	again, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: v.To})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, again.SendAttempts[1].MessageID, 10*time.Second, switchboard.StatusUndelivered)
	clock.Add(5 * time.Second)
	waitFor(t, 10*time.Second, "the fallback call", func() bool { return len(caller.calls()) > 0 })
	if r, err := n.client.CheckVerification(ctx, v.ID, code); err != nil || !r.Valid {
		t.Fatalf("approval: %+v %v", r, err)
	}

	if strings.Contains(logs.String(), code) {
		t.Error("the code is in the logs")
	}
	if !strings.Contains(logs.String(), v.ID) {
		t.Error("the logs do not mention the verification (is debug logging on?)")
	}
	metricsText := scrape(t, n)
	if strings.Contains(metricsText, code) {
		t.Error("the code is in the metrics")
	}
	if !strings.Contains(metricsText, `switchboard_verifications_approved_total{channel="call",country="US"} 1`) {
		t.Errorf("no approval counted:\n%s", metricsText)
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
	got, _ := n.client.GetVerification(ctx, v.ID)
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), code) {
		t.Errorf("the verification's answer holds the code: %s", raw)
	}
	for _, s := range got.SendAttempts {
		if s.MessageID == "" {
			continue
		}
		m, err := n.client.Get(ctx, s.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		m.Body = ""
		raw, _ := json.Marshal(m)
		if strings.Contains(string(raw), code) {
			t.Errorf("message %s holds the code outside its body: %s", m.ID, raw)
		}
		if len(m.Events) < 3 {
			t.Errorf("message %s has a short timeline: %s", m.ID, raw)
		}
	}
}
