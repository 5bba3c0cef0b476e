package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// TestTenantNumberWebhooksThroughItsAccount: with sync_webhooks, a sender number of a tenant
// with its own Twilio account is pointed at the node through that account, at run time and at
// start-up. Through the node's account Twilio does not list the number, and a node refused to
// start again once a tenant had added its own number as a sender.
func TestTenantNumberWebhooksThroughItsAccount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testkit.NodeConfig{
		Env: map[string]string{"SWITCHBOARD_DATA_DIR": dir, "SWITCHBOARD_SYNC_WEBHOOKS": "true"},
		Options: node.Options{SimConfig: func(c *twiliosim.Config) {
			c.Subaccounts = []twiliosim.SubaccountConfig{{SID: subA, AuthToken: subAToken, Numbers: []string{subANumber}}}
		}},
	}
	n := testkit.StartNode(t, cfg)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := n.Store().CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
		StagingMode: switchboard.StagingAllowlist, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key, secret, err := switchboard.NewAPIKey("acme admin", now)
	if err != nil {
		t.Fatal(err)
	}
	key.Tenant, key.Role = "acme", switchboard.RoleAdmin
	if err := n.Store().CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body any) (int, string) {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, n.URL()+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("PUT", "/v1/tenants/acme/credentials", map[string]any{"account_sid": subA, "auth_token": subAToken}); code != 200 {
		t.Fatalf("credentials: %d %s", code, body)
	}
	// Point the number elsewhere, so that only the sender's own sync brings it back.
	if _, err := n.Simulator().AddNumber(subANumber, "https://example.invalid/elsewhere"); err != nil {
		t.Fatal(err)
	}
	smsURL := func(sim *twiliosim.Simulator) (acct, url string) {
		for _, x := range sim.Numbers() {
			if x.PhoneNumber == subANumber {
				return x.AccountSID, x.SMSURL
			}
		}
		return "", ""
	}
	if code, body := call("POST", "/v1/senders", map[string]any{"from": subANumber, "tenants": []string{"acme"}}); code != 201 {
		t.Fatalf("adding acme's number as a sender: %d %s", code, body)
	}
	testkit.WaitFor(t, 10*time.Second, "acme's number pointed at the node", func() bool {
		acct, url := smsURL(n.Simulator())
		return acct == subA && url == n.URL()+"/webhooks/twilio/inbound"
	})
	n.Stop()

	// The node starts again with that sender, and points the number through acme's account.
	n2 := testkit.StartNode(t, cfg)
	if acct, url := smsURL(n2.Simulator()); acct != subA || url != n2.URL()+"/webhooks/twilio/inbound" {
		t.Errorf("after a restart acme's number is %s's, its SmsUrl %q; want %s's, %s", acct, url, subA, n2.URL()+"/webhooks/twilio/inbound")
	}
}
