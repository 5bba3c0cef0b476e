package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// TestSimControlGuarded attacks the in-process simulator's control API as a stranger on the
// port and as a cross-site page would: no key, form posts, text/plain JSON. None may read a
// message or fake a STOP; the API key with JSON works.
func TestSimControlGuarded(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	do := func(method, path, ctype, key, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, n.URL()+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	stop := url.Values{"from": {"+14155550166"}, "to": {"+15005550006"}, "body": {"STOP"}}.Encode()
	stopJSON := `{"from":"+14155550166","to":"+15005550006","body":"STOP"}`

	if code, body := do("GET", "/sim/v1/messages", "", "", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Fatalf("read without a key: %d %s", code, body)
	}
	if code, _ := do("GET", "/sim/v1/messages", "", "sb_wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("read with a wrong key: %d", code)
	}
	if code, _ := do("POST", "/sim/v1/inbound", "application/json", "", stopJSON); code != http.StatusUnauthorized {
		t.Fatalf("fake STOP without a key: %d", code)
	}
	if code, _ := do("POST", "/sim/v1/faults", "application/json", "", `{"status_500_ratio":1}`); code != http.StatusUnauthorized {
		t.Fatalf("faults without a key: %d", code)
	}
	// Cross-site pages can post these content types without a preflight; even with a key
	// (which a page never has) they are refused.
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"} {
		b := stop
		if ct == "text/plain" {
			b = stopJSON
		}
		if code, body := do("POST", "/sim/v1/inbound", ct, n.secret, b); code/100 != 4 || !strings.Contains(body, "unsupported_media_type") {
			t.Fatalf("%s post: %d %s", ct, code, body)
		}
	}
	if code, body := do("POST", "/sim/v1/inbound", "", n.secret, stopJSON); code/100 != 4 || !strings.Contains(body, "unsupported_media_type") {
		t.Fatalf("body without content type: %d %s", code, body)
	}
	for _, m := range n.simMessages(t) {
		if m.From == "+14155550166" {
			t.Fatalf("a refused request reached the simulator: %+v", m)
		}
	}
	if f := n.Simulator().Faults(); f.Status500Ratio != 0 {
		t.Fatalf("faults injected: %+v", f)
	}
	// The key with JSON works, and a body-less POST needs no content type.
	if code, body := do("POST", "/sim/v1/faults", "application/json", n.secret, `{"latency_ms":1}`); code != http.StatusOK {
		t.Fatalf("faults with the key: %d %s", code, body)
	}
	if code, body := do("POST", "/sim/v1/reset", "", n.secret, ""); code != http.StatusOK {
		t.Fatalf("reset with the key: %d %s", code, body)
	}
}

// TestSimOwnAddressHasNoControl: the in-process simulator's own address serves Twilio's REST API
// to the node, never the control API.
func TestSimOwnAddressHasNoControl(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	resp, err := http.Get("http://" + node.SimulatorAddr(n.Node.Node) + "/sim/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || json.Valid(b) && strings.Contains(string(b), "messages") {
		t.Fatalf("control API on the simulator's own address: %d %s", resp.StatusCode, b)
	}
}

// TestSimulatorRefusesNonLoopback: serve with the simulator on every interface is refused unless
// SWITCHBOARD_SIM_ALLOW_REMOTE says so.
func TestSimulatorRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"SWITCHBOARD_ADDR": "0.0.0.0:0"},
		{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_SIM_ADDR": "0.0.0.0:0"},
	} {
		env["SWITCHBOARD_DATA_DIR"] = t.TempDir()
		cfg, err := config.Load(nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.Open(context.Background(), cfg, testLogger(t), node.Options{})
		if err == nil {
			_ = n.Shutdown(context.Background())
			t.Fatalf("%v: opened", env)
		}
		if !strings.Contains(err.Error(), "SWITCHBOARD_SIM_ALLOW_REMOTE") {
			t.Fatalf("%v: %v", env, err)
		}
	}
	if _, err := config.Load(nil, func(k string) string {
		return map[string]string{"SWITCHBOARD_SIM_ALLOW_REMOTE": "maybe"}[k]
	}); err == nil {
		t.Fatal("sim_allow_remote=maybe accepted")
	}
}
