package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// tenantClient stores tenant t and an API key of it with role, and returns a client with it.
func tenantClient(t *testing.T, n *testNode, tn *switchboard.Tenant, role switchboard.Role) *client.Client {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if tn.CreatedAt.IsZero() {
		tn.CreatedAt, tn.UpdatedAt = now, now
		if err := n.Store().CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	key, secret, err := switchboard.NewAPIKey(tn.ID+"-"+string(role), now)
	if err != nil {
		t.Fatal(err)
	}
	key.Tenant, key.Role = tn.ID, role
	if err := n.Store().CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	return client.New(n.URL(), secret, client.WithRetries(0))
}

func apiStatus(err error) (int, string) {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status, e.Code
	}
	return 0, ""
}

// TestStagingTenants (issue 18, point 6): a staging tenant of mode allowlist reaches only the
// numbers and prefixes it lists — a message, a call or a verification to anyone else is refused
// with 422 staging_recipient_not_allowed and creates nothing; a staging tenant of mode simulator
// sends to anyone on a node whose provider is the simulator.
func TestStagingTenants(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_FLOWS_DIR": filepath.Join("..", "..", "examples", "flows")}})
	ctx := context.Background()
	allow := tenantClient(t, n, &switchboard.Tenant{ID: "acme-staging", Name: "Acme staging", Environment: switchboard.EnvStaging,
		StagingMode: switchboard.StagingAllowlist, AllowedRecipients: []string{"+14155550100", "+1212555*"}}, switchboard.RoleAdmin)
	sim := tenantClient(t, n, &switchboard.Tenant{ID: "acme-sim", Name: "Acme simulated", Environment: switchboard.EnvStaging,
		StagingMode: switchboard.StagingSimulator}, switchboard.RoleAdmin)

	ok1, err := allow.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "listed number"})
	if err != nil {
		t.Fatal(err)
	}
	ok2, err := allow.Send(ctx, &client.SendRequest{To: "+12125550123", Body: "listed prefix"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = allow.Send(ctx, &client.SendRequest{To: "+14155550199", Body: "a real customer"})
	if status, code := apiStatus(err); status != 422 || code != switchboard.CodeStagingRecipient {
		t.Fatalf("send off the list: %v, want 422 %s", err, switchboard.CodeStagingRecipient)
	}
	_, err = allow.StartVerification(ctx, &client.VerificationRequest{To: "+14155550199"})
	if status, code := apiStatus(err); status != 422 || code != switchboard.CodeStagingRecipient {
		t.Errorf("verification off the list: %v, want 422 %s", err, switchboard.CodeStagingRecipient)
	}
	_, err = allow.CreateCall(ctx, &client.CallRequest{To: "+14155550199", Flow: "appointment_confirmation",
		Variables: map[string]string{"clinic": "Northside", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}})
	if status, code := apiStatus(err); status != 422 || code != switchboard.CodeStagingRecipient {
		t.Errorf("call off the list: %v, want 422 %s", err, switchboard.CodeStagingRecipient)
	}
	// Nothing of the refused requests exists: no message, call or verification, nothing at the
	// provider.
	if calls, err := n.Store().ListCalls(ctx, switchboard.CallFilter{Limit: 10}); err != nil || len(calls) != 0 {
		t.Errorf("calls after the refused one: %d, %v", len(calls), err)
	}
	waitStored(t, n, ok1.ID, 10*time.Second, switchboard.StatusDelivered)
	waitStored(t, n, ok2.ID, 10*time.Second, switchboard.StatusDelivered)
	msgs, _, err := n.Store().ListMessages(ctx, switchboard.MessageFilter{Tenant: "acme-staging", Limit: 100})
	if err != nil || len(msgs) != 2 {
		t.Errorf("acme-staging has %d messages (%v), want the 2 listed", len(msgs), err)
	}
	for _, sm := range n.SimMessages(t) {
		if sm.To == "+14155550199" {
			t.Errorf("the simulator got a message to the unlisted number: %+v", sm)
		}
	}
	usage, err := n.Store().ListUsage(ctx, switchboard.UsageFilter{Tenant: "acme-staging"})
	if err != nil || len(usage) != 1 || usage[0].Messages != 2 || usage[0].Verifications != 0 || usage[0].Calls != 0 {
		t.Errorf("acme-staging's usage: %+v, %v; want 2 messages and no verification", usage, err)
	}

	// Mode simulator on a simulator node: anyone.
	m, err := sim.Send(ctx, &client.SendRequest{To: "+14155550199", Body: "simulated"})
	if err != nil {
		t.Fatalf("a simulator-mode staging tenant on a simulator node: %v", err)
	}
	waitStored(t, n, m.ID, 10*time.Second, switchboard.StatusDelivered)
}

// TestTenantQuotaAndPrice (issue 18, point 7): a tenant's daily message limit refuses the
// message over it with 429 quota_exceeded and a Retry-After to the next UTC midnight; the price
// the simulator reports is fetched once the message is delivered, shows on the message and adds
// to the tenant's spend in GET /v1/usage.
func TestTenantQuotaAndPrice(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_STATUS_POLL_AFTER": "200ms"},
		dispatch: func(c *dispatch.Config) { c.StatusPollAfter = 200 * time.Millisecond }})
	ctx := context.Background()
	tn := &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction, DailyMessages: 2}
	c := tenantClient(t, n, tn, switchboard.RoleAdmin)
	var ids []string
	for i := range 2 {
		m, err := c.Send(ctx, &client.SendRequest{To: "+1415555010" + strconv.Itoa(i), Body: "Your technician is on the way"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	_, err := c.Send(ctx, &client.SendRequest{To: "+14155550109", Body: "one too many"})
	var e *client.Error
	now := time.Now().UTC()
	if !errors.As(err, &e) || e.Status != 429 || e.Code != switchboard.CodeQuotaExceeded || e.RetryAfter <= 0 ||
		e.RetryAfter > switchboard.NextUTCDay(now).Sub(now)+time.Minute {
		t.Fatalf("the third message: %v; want 429 quota_exceeded with a Retry-After to the next UTC day", err)
	}
	for _, id := range ids {
		waitStored(t, n, id, 10*time.Second, switchboard.StatusDelivered)
	}
	// The dispatcher fetches the prices of the delivered messages.
	var m *switchboard.Message
	waitFor(t, 15*time.Second, "the price of "+ids[0], func() bool {
		m, err = c.Get(ctx, ids[0])
		return err == nil && m.Price != ""
	})
	if m.Price != "-0.00790" || m.PriceUnit != "USD" {
		t.Errorf("price %q %q, want the simulator's -0.00790 USD", m.Price, m.PriceUnit)
	}
	waitFor(t, 15*time.Second, "the spend of both messages", func() bool {
		rep, err := c.Usage(ctx, client.UsageOptions{})
		return err == nil && len(rep.Usage) == 1 && rep.Usage[0].SpendMicros == 15800
	})
	rep, err := c.Usage(ctx, client.UsageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := rep.Usage[0]; u.Tenant != "acme" || u.Messages != 2 || u.Segments != 2 || u.Spend != "0.0158" || u.PriceUnit != "USD" {
		t.Errorf("usage %+v", u)
	}
}

// waitStored waits for a message of any tenant to reach one of want, read from the store (the
// node's own key is tenant default's and gets 404 for another tenant's messages).
func waitStored(t *testing.T, n *testNode, id string, timeout time.Duration, want ...switchboard.Status) *switchboard.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, err := n.Store().GetMessage(context.Background(), id)
		if err == nil && slices.Contains(want, m.Status) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s: %v (err %v), want one of %v", id, m, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
