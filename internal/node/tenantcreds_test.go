package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/export"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/secretbox"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// Two subaccounts of the simulated account: the first is used with its auth token, the second
// with an API key of its own.
var (
	subA       = "AC" + strings.Repeat("b", 32)
	subAToken  = "subaccountatoken0123456789abcdef"
	subANumber = "+15005550100"
	subB       = "AC" + strings.Repeat("c", 32)
	subBToken  = "subaccountbtoken0123456789abcdef"
	subBKey    = "SK" + strings.Repeat("d", 32)
	subBSecret = "subaccountbkeysecret0123456789ab"
	subBNumber = "+15005550101"
)

// syncBuffer is a log sink read while the node writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTenantOwnCredentials is issue #18's "one tenant with its own credentials": a tenant's
// credentials are refused when Twilio refuses them (nothing stored), saved sealed when it accepts
// them, the subaccount's numbers are pointed at the node, the tenant's messages go out through
// its subaccount while the default tenant's go through the node's account, a callback of the
// subaccount is accepted only with the subaccount's signature, and a rotation (to another
// subaccount, with an API key) applies to the next message without a restart. No secret appears
// in an API answer or in the logs (debug level).
func TestTenantOwnCredentials(t *testing.T) {
	t.Parallel()
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	logs := &syncBuffer{}
	n := testkit.StartNode(t, testkit.NodeConfig{
		Env: map[string]string{
			"SWITCHBOARD_SYNC_WEBHOOKS":    "false", // the node's own senders include the subaccounts' numbers
			"SWITCHBOARD_SECRET_KEY":       "k1:" + base64.StdEncoding.EncodeToString(raw[:]),
			"SWITCHBOARD_PROVIDER_TIMEOUT": "2s", "SWITCHBOARD_LEASE": "10s",
			"SWITCHBOARD_FLOWS_DIR":        filepath.Join("..", "..", "examples", "flows"),
			"SWITCHBOARD_CALL_QUIET_HOURS": "off", // calls at any hour of the test run
		},
		YAML: `senders:
  - from: "+15005550006"
  - from: "` + subANumber + `"
    tenants: [acme]
  - from: "` + subBNumber + `"
    tenants: [acme]
`,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Options: node.Options{
			SimConfig: func(c *twiliosim.Config) {
				c.SendingDelay, c.SentDelay, c.DeliveredDelay = 5*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond
				c.CallInputWait = 50 * time.Millisecond // a silent callee does not wait out each Gather
				c.Subaccounts = []twiliosim.SubaccountConfig{
					{SID: subA, AuthToken: subAToken, Numbers: []string{subANumber}},
					{SID: subB, AuthToken: subBToken, Numbers: []string{subBNumber}, APIKeys: map[string]string{subBKey: subBSecret}},
				}
			},
			DispatchConfig: func(c *dispatch.Config) {
				c.MinBackoff, c.MaxBackoff, c.PollInterval = 20*time.Millisecond, 500*time.Millisecond, 50*time.Millisecond
			},
		},
	})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := n.Store().CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "Acme field service", Environment: switchboard.EnvProduction,
		StagingMode: switchboard.StagingAllowlist, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key, acmeSecret, err := switchboard.NewAPIKey("acme admin", now)
	if err != nil {
		t.Fatal(err)
	}
	key.Tenant, key.Role = "acme", switchboard.RoleAdmin
	if err := n.Store().CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	acme := client.New(n.URL(), acmeSecret, client.WithRetries(0))
	// send stores a message of tenant as the API of a tenant's key does, and wakes nothing: the
	// dispatcher finds it on its next poll. (The store is used rather than the API so that the
	// test names the tenant whatever the API's key scoping.)
	send := func(tenant, from, to, body string) string {
		t.Helper()
		m, err := switchboard.NewMessage(switchboard.MessageSpec{To: to, From: from, Body: body, APIKeyID: key.ID, Actor: "test"}, time.Now().UTC())
		if err != nil {
			t.Fatal(err)
		}
		m.Tenant = tenant
		if _, _, err := n.Store().CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	delivered := func(id string) *switchboard.Message {
		t.Helper()
		var m *switchboard.Message
		testkit.WaitFor(t, 10*time.Second, "message "+id+" delivered", func() bool {
			var err error
			if m, err = n.Store().GetMessage(ctx, id); err != nil {
				t.Fatal(err)
			}
			if m.Status.Terminal() && m.Status != switchboard.StatusDelivered {
				for _, e := range m.Events {
					t.Logf("%s %s %s", e.Type, e.Status, e.Detail)
				}
				t.Fatalf("message %s ended %s (%d %s)", id, m.Status, m.ErrorCode, m.ErrorMessage)
			}
			return m.Status == switchboard.StatusDelivered
		})
		return m
	}
	put := func(body map[string]any) (int, []byte) {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPut, n.URL()+"/v1/tenants/acme/credentials", bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+acmeSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, s := range []string{subAToken, subBToken, subBSecret, "wrongtoken"} {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("the answer holds a secret: %s", b)
			}
		}
		return resp.StatusCode, b
	}

	t.Cleanup(func() {
		var exported bytes.Buffer
		for _, format := range []string{export.CSV, export.JSONL} {
			if _, err := export.Messages(context.Background(), n.Store(), &exported, time.Time{}, time.Now().Add(time.Hour), format); err != nil {
				t.Error(err)
			}
		}
		for _, s := range []string{subAToken, subBToken, subBSecret} {
			if strings.Contains(logs.String(), s) {
				t.Error("a tenant's secret appears in the logs")
			}
			if strings.Contains(exported.String(), s) {
				t.Error("a tenant's secret appears in an export")
			}
		}
	})

	// Another tenant's key (the node's default one) learns nothing of acme's: 404.
	if _, err := n.Client.TenantCredentials(ctx, "acme"); !client.IsCode(err, "tenant_not_found") {
		t.Fatalf("the default tenant's key on acme's credentials: %v", err)
	}
	if err := n.Client.RemoveTenantCredentials(ctx, "acme"); !client.IsCode(err, "tenant_not_found") {
		t.Fatalf("the default tenant's key removing acme's credentials: %v", err)
	}

	// Refused by the provider: 422, nothing stored, nothing changed at the simulator.
	if code, body := put(map[string]any{"account_sid": subA, "auth_token": "wrongtoken0123456789abcdef012345"}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(string(body), `"credentials_rejected"`) {
		t.Fatalf("bad token: %d %s", code, body)
	}
	if code, body := put(map[string]any{"account_sid": subB, "api_key_sid": subBKey, "api_key_secret": "wrongsecret0123456789abcdef0123"}); code != http.StatusUnprocessableEntity {
		t.Fatalf("bad key secret: %d %s", code, body)
	}
	if _, err := acme.TenantCredentials(ctx, "acme"); !client.IsCode(err, "credentials_not_found") {
		t.Fatalf("after refusals: %v", err)
	}
	// Accepted: stored sealed, the subaccount's number pointed at the node.
	code, body := put(map[string]any{"account_sid": subA, "auth_token": subAToken})
	if code != http.StatusOK {
		t.Fatalf("good token: %d %s", code, body)
	}
	var view client.TenantCredentials
	if err := json.Unmarshal(body, &view); err != nil {
		t.Fatal(err)
	}
	if view.AccountSID != subA || view.AuthKind != "token" || !view.WebhooksVerifiable || view.WebhookSync == nil ||
		view.WebhookSync.Numbers != 1 || view.WebhookSync.Changed != 1 || view.WebhookSync.Error != "" {
		t.Fatalf("saved: %s", body)
	}
	if _, err := n.Client.TenantCredentials(ctx, "acme"); !client.IsCode(err, "tenant_not_found") {
		t.Fatalf("the default tenant's key on acme's saved credentials: %v", err)
	}
	for _, num := range n.Simulator().Numbers() {
		if num.PhoneNumber == subANumber && num.SMSURL != n.URL()+webhook.InboundPath {
			t.Fatalf("the subaccount's number points at %q", num.SMSURL)
		}
	}
	// A text to the subaccount's number reaches the node, signed with the subaccount's token.
	if err := n.Simulator().Inbound(ctx, "+14155550177", subANumber, "running late"); err != nil {
		t.Fatalf("inbound to the subaccount's number: %v", err)
	}
	stored, err := secretbox.Unwrap(n.Store()).GetTenantCredentials(ctx, "acme")
	if err != nil || !secretbox.Sealed(stored.Secret) || strings.Contains(stored.Secret, subAToken) {
		t.Fatalf("stored: %v %+v", err, stored)
	}

	// A callback naming the subaccount but signed with another token is refused; the same
	// signed with the subaccount's token is accepted.
	form := url.Values{"MessageSid": {"SM" + strings.Repeat("9", 32)}, "MessageStatus": {"delivered"}, "AccountSid": {subA},
		"From": {subANumber}, "To": {"+14155550100"}, "ApiVersion": {"2010-04-01"}, "SmsStatus": {"delivered"}}
	target := n.URL() + webhook.StatusPath
	if got := postSigned(t, target, form, n.Simulator().AuthToken()); got != http.StatusForbidden {
		t.Fatalf("callback of the subaccount signed with the node's token: %d, want 403", got)
	}
	if got := postSigned(t, target, form, "wrongtoken0123456789abcdef012345"); got != http.StatusForbidden {
		t.Fatalf("callback signed with a wrong token: %d, want 403", got)
	}
	if got := postSigned(t, target, form, subAToken); got != http.StatusNoContent {
		t.Fatalf("callback signed with the subaccount's token: %d", got)
	}

	// The tenant's message goes through its subaccount; the default tenant's through the node's.
	mine := delivered(send("acme", subANumber, "+14155550100", "Technician on the way"))
	theirs := delivered(send(switchboard.DefaultTenant, "+15005550006", "+14155550101", "Job assigned"))
	accountOf := func(sid string) string {
		m, ok := n.Simulator().Message(sid)
		if !ok {
			t.Fatalf("the simulator has no message %s", sid)
		}
		return m.AccountSID
	}
	if got := accountOf(mine.ProviderSID); got != subA {
		t.Fatalf("the tenant's message went through %s, want its subaccount %s", got, subA)
	}
	if got := accountOf(theirs.ProviderSID); got != n.Simulator().AccountSID() {
		t.Fatalf("the default tenant's message went through %s", got)
	}
	// acme's message from the shared number (a sender listing no tenant: the node's, as its
	// verification codes from verify_from are) goes through the node's account, which owns the
	// number; the subaccount could not send from it.
	shared := delivered(send("acme", "+15005550006", "+14155550102", "Your code is 123456"))
	if got := accountOf(shared.ProviderSID); got != n.Simulator().AccountSID() {
		t.Fatalf("acme's message from the shared number went through %s, want the node's account", got)
	}
	// Its status callbacks (signed with the subaccount's token) were accepted: the timeline
	// holds them.
	if !hasCallback(mine) {
		t.Fatalf("no callback applied to the tenant's message: %+v", mine.Events)
	}

	// The tenant's calls are placed through its subaccount too, and their TwiML requests and
	// status callbacks (signed with the subaccount's token) are accepted: the call completes.
	call, err := n.Calls().Build(&voice.CreateRequest{To: "+14155550160", Flow: "appointment_confirmation",
		Variables: map[string]string{"clinic": "Northside", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}},
		subANumber, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	call.Tenant = "acme"
	if _, _, err := n.Store().CreateCall(ctx, call, nil); err != nil {
		t.Fatal(err)
	}
	n.Calls().Notify()
	testkit.WaitFor(t, 15*time.Second, "the tenant's call to end", func() bool {
		c, err := n.Store().GetCall(ctx, call.ID)
		if err != nil {
			t.Fatal(err)
		}
		call = c
		return c.Status.Terminal()
	})
	if call.Status != switchboard.CallCompleted {
		t.Fatalf("the tenant's call ended %s: %+v", call.Status, call.Timeline)
	}
	for _, c := range n.Simulator().Calls() {
		if c.SID == call.ProviderSID && c.AccountSID != subA {
			t.Fatalf("the tenant's call went through %s", c.AccountSID)
		}
	}

	// Rotation without a restart: another subaccount, through an API key, with its auth token
	// for the webhooks. The next message goes through it.
	code, body = put(map[string]any{"account_sid": subB, "api_key_sid": subBKey, "api_key_secret": subBSecret, "auth_token": subBToken})
	if code != http.StatusOK || !strings.Contains(string(body), `"auth_kind":"api_key"`) {
		t.Fatalf("rotation: %d %s", code, body)
	}
	next := delivered(send("acme", subBNumber, "+14155550102", "Job completed"))
	if got := accountOf(next.ProviderSID); got != subB {
		t.Fatalf("after the rotation the tenant's message went through %s, want %s", got, subB)
	}
	if !hasCallback(next) {
		t.Fatal("the new subaccount's callbacks were not accepted")
	}
	got, err := acme.TenantCredentials(ctx, "acme")
	if err != nil || got.AccountSID != subB || got.APIKeySID != subBKey {
		t.Fatalf("show: %v %+v", err, got)
	}

	// Removed: the tenant's messages go through the node's account again.
	if err := acme.RemoveTenantCredentials(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	last := delivered(send("acme", "+15005550006", "+14155550103", "Thanks"))
	if got := accountOf(last.ProviderSID); got != n.Simulator().AccountSID() {
		t.Fatalf("after removal the tenant's message went through %s", got)
	}
}

func hasCallback(m *switchboard.Message) bool {
	for _, e := range m.Events {
		if e.Type == switchboard.EventCallback {
			return true
		}
	}
	return false
}

// postSigned posts form to target signed with token and returns the status.
func postSigned(t *testing.T, target string, form url.Values, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosig.Header, twiliosig.Sign(token, target, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
