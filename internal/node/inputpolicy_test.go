package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// TestProviderTextStoredOnBothEngines posts signed inbound webhooks and status callbacks whose
// text PostgreSQL refuses (NUL, invalid UTF-8) to a node on each engine: each answers 2xx (a 500
// would make Twilio retry until it drops the message), the message is stored with U+FFFD in
// place of what could not be, its payload keeps the exact bytes percent-encoded, and a status
// callback with a NUL is kept.
func TestProviderTextStoredOnBothEngines(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"SWITCHBOARD_SYNC_WEBHOOKS": "false"}
			if engine == "postgres" {
				u, _ := pgtest.URL(t)
				env["SWITCHBOARD_DATABASE_URL"] = u
			}
			n := startNode(t, nodeOpts{env: env})
			token, public := n.Simulator().AuthToken(), strings.TrimRight(n.Config().PublicURL, "/")
			post := func(path string, form url.Values) int {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, n.URL()+path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set(twiliosig.Header, twiliosig.Sign(token, public+path, form))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			in := url.Values{"MessageSid": {"SMnul0001"}, "AccountSid": {"AC1"}, "From": {"+14155550144"},
				"To": {"+15005550006"}, "Body": {"caf\xe9 at 4\x00pm"}, "NumMedia": {"0"}, "X\x00tra": {"\xff"}}
			if code := post(webhook.InboundPath, in); code != http.StatusOK {
				t.Fatalf("inbound with NUL and invalid UTF-8: %d", code)
			}
			stop := url.Values{"MessageSid": {"SMnul0002"}, "AccountSid": {"AC1"}, "From": {"+14155550145"},
				"To": {"+15005550006"}, "Body": {"STOP\x00"}, "NumMedia": {"0"}}
			if code := post(webhook.InboundPath, stop); code != http.StatusOK {
				t.Fatalf("STOP with NUL: %d", code)
			}
			cb := url.Values{"MessageSid": {"SMunknown1"}, "MessageStatus": {"delivered"}, "AccountSid": {"AC1"}, "To": {"+1415\x00"}}
			if code := post(webhook.StatusPath, cb); code/100 != 2 {
				t.Fatalf("status callback with NUL: %d", code)
			}
			ctx := context.Background()
			msgs, _, err := n.Store().ListInbound(ctx, switchboard.InboundFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got *switchboard.InboundMessage
			for _, m := range msgs {
				if m.ProviderSID == "SMnul0001" {
					got = m
				}
			}
			if got == nil || got.Body != "caf\uFFFD at 4\uFFFDpm" {
				t.Fatalf("stored inbound: %+v", got)
			}
			var payload map[string]any
			if err := json.Unmarshal(got.Payload, &payload); err != nil {
				t.Fatal(err)
			}
			if payload[twilio.RawFormKey] != in.Encode() || payload["Body"] != got.Body {
				t.Fatalf("payload %s", got.Payload)
			}
			if len(msgs) != 2 {
				t.Fatalf("%d inbound messages stored, want 2", len(msgs))
			}
		})
	}
}

// TestURLTextOnBothEngines: cursors and filters with NUL or invalid UTF-8 get the same 400 on
// both engines (PostgreSQL answered 500), and any cursor string is a 200 or a 400.
func TestURLTextOnBothEngines(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if engine == "postgres" {
				u, _ := pgtest.URL(t)
				env["SWITCHBOARD_DATABASE_URL"] = u
			}
			n := startNode(t, nodeOpts{env: env})
			get := func(path string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, n.URL()+path, nil)
				req.Header.Set("Authorization", "Bearer "+n.secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			for path, code := range map[string]string{
				"/v1/messages?cursor=%00":               "nul_character",
				"/v1/messages?cursor=msg_%ff":           "invalid_utf8",
				"/v1/calls?cursor=%00":                  "nul_character",
				"/v1/conversations?cursor=1.%ff":        "invalid_utf8",
				"/v1/verifications/refusals?cursor=%00": "nul_character",
				"/v1/messages/msg_%00":                  "nul_character",
				"/v1/consent/%2B1415%ff":                "invalid_utf8",
			} {
				if status, body := get(path); status != http.StatusBadRequest || !strings.Contains(body, `"code":"`+code+`"`) {
					t.Errorf("%s: %d %s, want 400 %s", path, status, body, code)
				}
			}
			for _, c := range []string{"zzz", "msg_", "'; DROP TABLE messages; --", "1.x", "-1.a", "99999999999999999999.a", strings.Repeat("9", 300)} {
				for _, p := range []string{"/v1/messages", "/v1/calls", "/v1/conversations", "/v1/verifications/refusals"} {
					if status, body := get(p + "?cursor=" + url.QueryEscape(c)); status != http.StatusOK && status != http.StatusBadRequest {
						t.Errorf("%s cursor %q: %d %s", p, c, status, body)
					}
				}
			}
		})
	}
}

// TestVoiceInputStoredOnBothEngines: a callee's speech with NUL and invalid UTF-8 (Twilio's
// SpeechResult, signed) is stored on both engines, as U+FFFD, and the flow goes on; PostgreSQL
// would refuse \u0000 in the call's jsonb and the step would fail.
func TestVoiceInputStoredOnBothEngines(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := voiceEnv()
			if engine == "postgres" {
				u, _ := pgtest.URL(t)
				env["SWITCHBOARD_DATABASE_URL"] = u
			}
			n := startNode(t, nodeOpts{env: env})
			to := "+14155550131"
			if err := n.Simulator().ScriptCalls(twiliosim.CallScript{Number: to,
				Inputs: []twiliosim.CalleeInput{{Speech: "reschedule\x00 me \xff please"}}}); err != nil {
				t.Fatal(err)
			}
			c := createCall(t, n.URL(), n.secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars})
			c = waitCall(t, n.URL(), n.secret, c.ID, terminal)
			if c.Status != switchboard.CallCompleted || c.Outcome != "reschedule" || len(c.Inputs) != 1 ||
				c.Inputs[0].Speech != "reschedule\uFFFD me \uFFFD please" {
				t.Fatalf("call %s %q inputs %+v", c.Status, c.Outcome, c.Inputs)
			}
		})
	}
}
