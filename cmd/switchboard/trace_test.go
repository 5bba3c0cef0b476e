package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// obsNode is an in-process node with the simulator, an API key and the CLI pointed at it.
type obsNode struct {
	*node.Node
	client *client.Client
	env    map[string]string
}

func startObsNode(t *testing.T, extra map[string]string) *obsNode {
	t.Helper()
	env := map[string]string{"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", "SWITCHBOARD_LOG_LEVEL": "error"}
	for k, v := range extra {
		env[k] = v
	}
	n := testkit.StartNode(t, testkit.NodeConfig{Env: env, KeyName: "support", Options: node.Options{SimConfig: func(c *twiliosim.Config) {
		// Far enough apart that the callbacks arrive in order: the golden output depends on it.
		c.SendingDelay, c.SentDelay, c.DeliveredDelay = 30*time.Millisecond, 60*time.Millisecond, 90*time.Millisecond
	}}})
	return &obsNode{Node: n.Node, client: n.Client, env: n.CLIEnv}
}

// sb runs the CLI in process and returns its stdout.
func (o *obsNode) sb(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(k string) string { return o.env[k] })
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("switchboard %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// normalizeTrace replaces what changes from run to run (IDs, SIDs, times, durations, the
// generated idempotency key) with placeholders, and the column padding that depends on them.
func normalizeTrace(s string) string {
	for _, r := range []struct{ re, repl string }{
		{`\b(msg|evt|dlv|key|ep|node)_[0-9a-z]+\b`, "${1}_ID"},
		{`\b(SM|MM)[0-9a-f]{32}\b`, "${1}SID"},
		{`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`, "TIME"},
		{`\b\d\d:\d\d:\d\d\.\d{3}\b`, "HH:MM:SS"},
		{`\+?\b\d+(\.\d+)?(ms|s|µs)\b`, "Δ"},
		{`idempotency key "[^"]*"`, `idempotency key "KEY"`},
		{`  +`, "  "},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.repl)
	}
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

// TestTraceGolden follows two messages through a node with the simulator and an application
// endpoint: one delivered (then a late "sent" callback that changes nothing), one refused by
// the provider (the magic number +15005550001, error 21211), and prints their traces by message
// ID and by provider SID.
func TestTraceGolden(t *testing.T) {
	t.Parallel()
	var received atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	o := startObsNode(t, nil)
	ctx := context.Background()
	if _, err := o.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: app.URL + "/hooks", EventTypes: []string{"message.*"}}); err != nil {
		t.Fatal(err)
	}

	good, err := o.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Your technician is on the way", IdempotencyKey: "job-42-on-the-way"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool {
		m, err := o.client.Get(ctx, good.ID)
		return err == nil && m.Status == switchboard.StatusDelivered
	})
	m, err := o.client.Get(ctx, good.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A late callback ("accepted", which maps to sending): ignored, and on the timeline.
	late, _ := json.Marshal(map[string]string{"MessageSid": m.ProviderSID, "MessageStatus": "accepted"})
	if _, err := o.Store().IngestCallback(ctx, &switchboard.Callback{ProviderSID: m.ProviderSID, ProviderStatus: "accepted",
		Status: switchboard.StatusSending, Payload: late, ReceivedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	bad, err := o.client.Send(ctx, &client.SendRequest{To: "+15005550001", Body: "This number is invalid", IdempotencyKey: "job-43"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the refusal", func() bool {
		m, err := o.client.Get(ctx, bad.ID)
		return err == nil && m.Status == switchboard.StatusFailed
	})
	// Every event delivered to the application: three moves of the good one, two of the bad one.
	waitFor(t, 10*time.Second, "the deliveries", func() bool {
		for _, id := range []string{good.ID, bad.ID} {
			tr, err := o.client.Trace(ctx, id)
			if err != nil {
				return false
			}
			for _, me := range tr.AppEvents {
				if len(me.Deliveries) != 1 || me.Deliveries[0].Status != switchboard.DeliveryDelivered {
					return false
				}
			}
		}
		return true
	})

	byID := o.sb(t, "trace", good.ID)
	bySID := o.sb(t, "trace", m.ProviderSID)
	if byID != bySID {
		t.Errorf("trace by SID differs from trace by ID:\n%s\n---\n%s", bySID, byID)
	}
	for _, want := range []string{good.ID, m.ProviderSID, "job-42-on-the-way", "ignored: delivered cannot move back to sending", "delivered after 1 attempt(s), last answer HTTP 204"} {
		if !strings.Contains(byID, want) {
			t.Errorf("trace lacks %q:\n%s", want, byID)
		}
	}
	checkGolden(t, "trace_delivered.golden", normalizeTrace(byID))
	refused := o.sb(t, "trace", bad.ID)
	if !strings.Contains(refused, "error 21211") {
		t.Errorf("the refused message's trace does not explain 21211:\n%s", refused)
	}
	checkGolden(t, "trace_failed.golden", normalizeTrace(refused))

	// JSON for scripts; and clear errors for what is not a message.
	var tr client.Trace
	if err := json.Unmarshal([]byte(o.sb(t, "trace", good.ID, "--json")), &tr); err != nil || tr.Message.ID != good.ID || len(tr.AppEvents) != 3 {
		t.Errorf("trace --json: %+v %v", tr, err)
	}
	for _, ref := range []string{"hello", "SM0000000000000000000000000000beef", "msg_nope"} {
		var out, errOut bytes.Buffer
		root := newRoot(&out, &errOut, func(k string) string { return o.env[k] })
		root.SetArgs([]string{"trace", ref})
		if err := root.ExecuteContext(ctx); err == nil {
			t.Errorf("trace %s: no error", ref)
		}
	}
}

// FuzzProviderStatusOf reads raw callback payloads (the provider's, stored as received) without
// failing on any shape.
func FuzzProviderStatusOf(f *testing.F) {
	for _, s := range []string{`{"MessageStatus":"delivered"}`, `{"SmsStatus":["sent","x"]}`, `{"MessageStatus":5}`, `[]`, `null`, ``, `{"MessageStatus":[]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		got := providerStatusOf(&switchboard.Event{Payload: json.RawMessage(payload), Status: switchboard.StatusSent})
		if got == "" {
			t.Fatalf("empty provider status for %q", payload)
		}
	})
}

// TestTraceShowsWhatsAppFallback: the operator sees which leg reached the person and the SMS leg.
func TestTraceShowsWhatsAppFallback(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	m := &switchboard.Message{ID: "msg_wa", Status: switchboard.StatusUndelivered, Channel: switchboard.ChannelWhatsApp,
		Category: switchboard.CategoryTransactional, To: "+14155550100", From: "+15005550006", CreatedAt: now, UpdatedAt: now,
		WhatsApp: &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS, FallbackMessageID: "msg_sms", ReachedBy: "sms"},
		Events:   []*switchboard.Event{{Type: switchboard.EventCreated, Status: switchboard.StatusQueued, At: now, Actor: "api:app"}}}
	var b strings.Builder
	if err := writeTrace(&b, &client.Trace{Message: m}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fallback    sms; SMS leg msg_sms", "reached by  sms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, b.String())
		}
	}
}

// TestDeltaExtremes: a duration at the edge of time.Duration prints instead of recursing for ever.
func TestDeltaExtremes(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{math.MinInt64, math.MaxInt64, -time.Second, 0} {
		if s := delta(d); s == "" {
			t.Errorf("delta(%d) is empty", d)
		}
	}
}
