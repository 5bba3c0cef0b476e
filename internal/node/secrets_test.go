package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/secretbox"
)

// TestSecretsEncryptedAtRest: with secret_key set, an endpoint's signing secret is stored
// encrypted (the raw row holds no plaintext), deliveries are still signed with it, and metrics
// say secrets are encrypted; without it the node warns at start that they are in plaintext and
// metrics say 0; with secret_key_required and no key the configuration is refused.
func TestSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	var raw [32]byte
	rand.Read(raw[:])
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	rcv, srv := newReceiver(t, clock)
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{
		"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", // the receiver is on loopback
		"SWITCHBOARD_SECRET_KEY":              "k1:" + base64.StdEncoding.EncodeToString(raw[:]),
	}, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	ep, err := n.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: srv.URL + "/hooks", EventTypes: []string{"message.received"}})
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()
	stored, err := secretbox.Unwrap(n.Store()).GetEndpoint(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := stored.Secrets[0].Secret; !strings.HasPrefix(s, "sbenc:v1:k1:") || strings.Contains(s, strings.TrimPrefix(ep.Secret, "whsec_")) {
		t.Fatalf("stored secret %q", s)
	}
	n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": "+14155550178", "to": "+15005550006", "body": "hi"})
	waitFor(t, 10*time.Second, "a signed delivery", func() bool { return len(rcv.ackedOf(switchboard.AppMessageReceived)) == 1 })
	if m := scrape(t, n); !strings.Contains(m, "switchboard_secrets_encrypted 1") {
		t.Fatal("metrics do not say secrets are encrypted")
	}

	// No key: a clear warning at start, and the flag at 0.
	var logs bytes.Buffer
	plain := startNode(t, nodeOpts{logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if !strings.Contains(logs.String(), "secrets are stored in PLAINTEXT") {
		t.Fatalf("no plaintext warning: %s", logs.String())
	}
	if m := scrape(t, plain); !strings.Contains(m, "switchboard_secrets_encrypted 0") {
		t.Fatal("metrics do not say secrets are in plaintext")
	}

	// Required, no key: refused.
	env := map[string]string{"SWITCHBOARD_SECRET_KEY_REQUIRED": "true", "SWITCHBOARD_DATA_DIR": t.TempDir()}
	if _, err := config.Load(nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "secret_key_required") {
		t.Fatalf("required without a key: %v", err)
	}
}
