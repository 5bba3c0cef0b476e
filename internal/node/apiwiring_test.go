package node_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// TestNodeWiresItsServicesIntoTheAPI: the node hands the API every service it runs — the
// tenants' credentials, verifications, calls, readiness details, the sender reload and the
// acceptance service — so that none of their routes answers as if the node had none (a merge
// once dropped them all from api.Config, which only end-to-end journeys noticed).
func TestNodeWiresItsServicesIntoTheAPI(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, testkit.NodeConfig{Env: map[string]string{
		"SWITCHBOARD_FLOWS_DIR":               filepath.Join("..", "..", "examples", "flows"),
		"SWITCHBOARD_MAX_BODY_BYTES":          "4096",
		"SWITCHBOARD_SENDER_REFRESH_INTERVAL": "1h", // only the API's own reload can apply a new sender
	}})
	call := func(method, path string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, n.URL()+path, rd)
		req.Header.Set("Authorization", "Bearer "+n.Secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("GET", "/readyz", nil); code != 200 || !strings.Contains(body, "clock") {
		t.Errorf("readyz without the node's health details: %d %s", code, body)
	}
	if code, body := call("PUT", "/v1/tenants/default/credentials", map[string]any{"account_sid": "AC" + strings.Repeat("e", 32),
		"auth_token": strings.Repeat("f", 32)}); strings.Contains(body, "credentials_not_configured") || code != 422 {
		t.Errorf("tenant credentials: %d %s, want them checked with the provider (422 credentials_rejected)", code, body)
	}
	if code, body := call("POST", "/v1/verifications", map[string]any{"to": "+14155550100"}); code != 201 {
		t.Errorf("a verification: %d %s, want 201", code, body)
	}
	if _, body := call("POST", "/v1/calls", map[string]any{"to": "+14155550100", "flow": "no_such_flow"}); strings.Contains(body, "calls_not_configured") {
		t.Errorf("a call: %s", body)
	}
	if code, body := call("POST", "/v1/messages", map[string]any{"to": "+14155550100", "body": strings.Repeat("x", 5000)}); code != 413 {
		t.Errorf("a body over max_body_bytes: %d %s, want 413", code, body)
	}
	if code, body := call("POST", "/v1/senders", map[string]any{"from": "+14155550177", "pool": "fresh"}); code != 201 {
		t.Fatalf("adding a sender: %d %s", code, body)
	}
	if code, body := call("POST", "/v1/messages", map[string]any{"to": "+14155550100", "body": "hi", "from": "+14155550177"}); code != 202 {
		t.Errorf("sending from the sender just added, on the node that added it: %d %s, want 202", code, body)
	}
}
