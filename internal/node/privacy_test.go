package node_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// TestLogsKeepNoBodiesNumbersOrTokens runs messages through every path at debug level and checks
// that no log line carries a body, a full phone number or a secret.
func TestLogsKeepNoBodiesNumbersOrTokens(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	dir := t.TempDir()
	env := map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": dir, "TWILIO_AUTH_TOKEN": "tok3nS3cretValue9"}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := node.Open(context.Background(), cfg, logger, node.Options{SimConfig: func(c *twiliosim.Config) {
		c.SendingDelay, c.SentDelay, c.DeliveredDelay = time.Millisecond, time.Millisecond, time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, secret, err := node.CreateAPIKey(context.Background(), n.Store(), "t", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL(), secret)
	ctx := context.Background()
	const body = "Secret appointment at Dr Zhivago clinic 4pm"
	var ids []string
	for _, to := range []string{"+14155550177", "+15005550001", "+15005550004"} {
		m, err := c.Send(ctx, &client.SendRequest{To: to, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	_, _ = c.Send(ctx, &client.SendRequest{To: "+15005550004", Body: body}) // refused: opted out
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/sim/v1/inbound", strings.NewReader(`{"from":"+14155550188","to":"+15005550006","body":"`+body+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			m, err := c.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status.Terminal() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s stuck in %s", id, m.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "message accepted") || !strings.Contains(out, "inbound message") {
		t.Fatalf("the logs did not cover the paths under test:\n%s", out)
	}
	for _, secretish := range []string{body, "Zhivago", "+14155550177", "4155550177", "+14155550188", "+15005550004", secret, "tok3nS3cretValue9", n.Simulator().AuthToken()} {
		if strings.Contains(out, secretish) {
			t.Errorf("logs contain %q", secretish)
		}
	}
}
