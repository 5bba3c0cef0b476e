package node_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// verifyStandardWebhook checks a delivery as the Standard Webhooks specification describes it,
// written from the specification rather than with Switchboard's signing code: the secret is
// "whsec_" and base64, the key is its decoded bytes, the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", and webhook-signature lists space-separated
// "v1,<base64 HMAC-SHA256>" of which one must match.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: id %q timestamp %q signature %q", id, ts, sigs)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(sigs, " ") {
		if v, sig, ok := strings.Cut(s, ","); ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no signature in %q matches", sigs)
}

// receiver is an application's webhook endpoint on loopback that can be told to fail.
type receiver struct {
	t      *testing.T
	clock  *fakeClock
	secret string

	mu       sync.Mutex
	mode     string // "ok", "fail" (500) or "hang" (no answer before the timeout)
	attempts int
	acked    map[string]*client.WebhookEvent // event ID → event, answered 2xx
	badSigs  []string
}

func newReceiver(t *testing.T, clock *fakeClock) (*receiver, *httptest.Server) {
	r := &receiver{t: t, clock: clock, mode: "ok", acked: map[string]*client.WebhookEvent{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) setMode(m string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = m
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	mode, secret := r.mode, r.secret
	r.attempts++
	var ev client.WebhookEvent
	err := verifyStandardWebhook(secret, req.Header, body)
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err == nil && ev.ID != req.Header.Get("webhook-id") {
		err = fmt.Errorf("webhook-id %s for event %s", req.Header.Get("webhook-id"), ev.ID)
	}
	// The timestamp is the attempt's, by the injected clock (a receiver without one does not
	// check it).
	if ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64); err == nil && r.clock != nil && ts != r.clock.Now().Unix() {
		err = fmt.Errorf("webhook-timestamp %d, clock %d", ts, r.clock.Now().Unix())
	}
	if err != nil {
		r.badSigs = append(r.badSigs, err.Error())
	}
	if mode == "ok" && err == nil {
		r.acked[ev.ID] = &ev
	}
	r.mu.Unlock()
	switch mode {
	case "ok":
		w.WriteHeader(http.StatusNoContent)
	case "fail":
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	case "hang":
		select {
		case <-req.Context().Done():
		case <-time.After(time.Second): // the server may not notice the client giving up
		}
	}
}

// ackedOf returns the acknowledged events of type typ.
func (r *receiver) ackedOf(typ switchboard.AppEventType) []*client.WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*client.WebhookEvent
	for _, ev := range r.acked {
		if ev.Type == string(typ) {
			out = append(out, ev)
		}
	}
	return out
}

// movesOf returns the "old→new" status moves acknowledged for message id, sorted.
func (r *receiver) movesOf(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	for _, ev := range r.ackedOf(switchboard.AppMessageStatusChanged) {
		var d switchboard.MessageStatusChangedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.MessageID == id {
			out = append(out, string(d.OldStatus)+"→"+string(d.Status))
		}
	}
	slices.Sort(out)
	return out
}

// logMoves returns the status moves the event log holds for message id, in log order, and
// checks that they chain from queued to delivered. Callbacks may arrive out of order (a late
// "sent" after "delivered" moves nothing), so the number of moves is read, not assumed.
func logMoves(t *testing.T, n *testNode, id string) []string {
	t.Helper()
	evs, err := n.Store().ListAppEvents(context.Background(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppMessageStatusChanged}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	prev := switchboard.StatusQueued
	for _, ev := range evs {
		var d switchboard.MessageStatusChangedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.MessageID != id {
			continue
		}
		if d.OldStatus != prev || !d.OldStatus.CanMoveTo(d.Status) {
			t.Fatalf("moves of %s do not chain: %v then %s→%s", id, out, d.OldStatus, d.Status)
		}
		prev = d.Status
		out = append(out, string(d.OldStatus)+"→"+string(d.Status))
	}
	if len(out) < 2 || out[0] != "queued→sending" || prev != switchboard.StatusDelivered {
		t.Fatalf("moves of %s: %v, want queued→sending … →delivered", id, out)
	}
	return out
}

// pendingOf returns the endpoint's pending deliveries.
func pendingOf(t *testing.T, n *testNode, epID string) []*switchboard.Delivery {
	t.Helper()
	ds, _, err := n.Store().ListDeliveries(context.Background(), switchboard.DeliveryFilter{EndpointID: epID, Status: switchboard.DeliveryPending})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestEventsToAnEndpointEndToEnd: a receiver registered as an endpoint gets every status move of
// a message and an inbound text, signed; while it fails (500s, then no answer) its deliveries
// are retried on the schedule (the injected clock moves) and none is lost; after failing for
// endpoints_disable_after it is disabled (an endpoint.disabled event says so), and its dead
// letters, replayed, arrive.
func TestEventsToAnEndpointEndToEnd(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	rcv, srv := newReceiver(t, clock)
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{
		"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", // the receiver is on loopback
		"SWITCHBOARD_ENDPOINTS_TIMEOUT":       "300ms",
		"SWITCHBOARD_ENDPOINTS_DISABLE_AFTER": "2h",
	}, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	ep, err := n.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: srv.URL + "/hooks/switchboard", EventTypes: []string{"message.*", "endpoint.disabled"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.ActiveSecrets != 1 {
		t.Fatalf("registered endpoint: %+v", ep)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()

	// 1. Every status move of a delivered message, and an inbound text.
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Job #12 assigned to you", Metadata: map[string]string{"job": "12"}})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	want := slices.Sorted(slices.Values(logMoves(t, n, m.ID)))
	waitFor(t, 10*time.Second, "the status moves of the first message", func() bool { return slices.Equal(rcv.movesOf(t, m.ID), want) })
	n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": "+14155550177", "to": "+15005550006", "body": "Running 10 minutes late"})
	waitFor(t, 10*time.Second, "message.received", func() bool { return len(rcv.ackedOf(switchboard.AppMessageReceived)) == 1 })
	var in switchboard.MessageReceivedData
	if err := json.Unmarshal(rcv.ackedOf(switchboard.AppMessageReceived)[0].Data, &in); err != nil {
		t.Fatal(err)
	}
	if in.From != "+14155550177" || in.To != "+15005550006" || in.Body != "Running 10 minutes late" || in.Channel != switchboard.ChannelSMS || in.Media == nil {
		t.Fatalf("message.received: %+v", in)
	}
	for _, ev := range rcv.ackedOf(switchboard.AppMessageStatusChanged) {
		var d switchboard.MessageStatusChangedData
		_ = json.Unmarshal(ev.Data, &d)
		if ev.Version != 1 || d.To != "+14155550100" || d.Metadata["job"] != "12" || (d.Status != switchboard.StatusSending && d.ProviderSID == "") {
			t.Fatalf("message.status_changed: %+v %+v", ev, d)
		}
	}

	// 2. The receiver fails: 500s, then no answer within the timeout, then 500s again.
	rcv.setMode("fail")
	m2, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550101", Body: "Job #13 updated"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m2.ID, 10*time.Second, switchboard.StatusDelivered)
	want2 := slices.Sorted(slices.Values(logMoves(t, n, m2.ID)))
	moves2 := len(want2)
	schedule := events.DefaultSchedule
	failed := func(attempts int, lastErr string) []*switchboard.Delivery {
		t.Helper()
		var ds []*switchboard.Delivery
		waitFor(t, 10*time.Second, fmt.Sprintf("%d deliveries failed %d times", moves2, attempts), func() bool {
			ds = pendingOf(t, n, ep.ID)
			done := 0
			for _, d := range ds {
				if d.Attempts == attempts {
					done++
				}
			}
			return len(ds) == moves2 && done == moves2
		})
		for _, d := range ds {
			// Retried on the schedule, with at most 10% jitter, never early.
			wait := d.NextAttemptAt.Sub(*d.LastAttemptAt)
			if lo := schedule[attempts-1]; wait < lo || wait > lo+lo/10+time.Millisecond || !strings.Contains(d.LastError, lastErr) {
				t.Fatalf("after attempt %d: next attempt in %s (want %s + ≤10%%), last error %q (want %q)", attempts, wait, lo, d.LastError, lastErr)
			}
		}
		return ds
	}
	// latest is when the last of ds falls due.
	latest := func(ds []*switchboard.Delivery) time.Time {
		var at time.Time
		for _, d := range ds {
			if d.NextAttemptAt.After(at) {
				at = d.NextAttemptAt
			}
		}
		return at
	}
	ds := failed(1, "HTTP 500")
	// Not due yet: nothing is attempted before its time.
	clock.Add(4 * time.Second)
	time.Sleep(100 * time.Millisecond) // a few worker polls; the assertion is that nothing moved
	if got := pendingOf(t, n, ep.ID); len(got) != moves2 || got[0].Attempts != 1 {
		t.Fatalf("deliveries attempted before they were due: %+v", got)
	}
	rcv.setMode("hang")
	clock.Set(latest(ds))
	ds = failed(2, "no answer within 300ms")
	rcv.setMode("fail")
	clock.Set(latest(ds))
	ds = failed(3, "HTTP 500")
	clock.Set(latest(ds))
	ds = failed(4, "HTTP 500")
	// The fifth failure comes 2 h 35 min after the first: past endpoints_disable_after (2 h).
	clock.Set(latest(ds))
	waitFor(t, 10*time.Second, "the endpoint disabled", func() bool {
		got, err := n.client.GetEndpoint(ctx, ep.ID)
		return err == nil && got.DisabledAt != nil
	})
	evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppEndpointDisabled}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("endpoint.disabled events: %v %v", evs, err)
	}
	var dis switchboard.EndpointDisabledData
	if err := json.Unmarshal(evs[0].Data, &dis); err != nil || dis.EndpointID != ep.ID || dis.LastError != "HTTP 500" {
		t.Fatalf("endpoint.disabled: %+v %v", dis, err)
	}
	// Its deliveries are dead letters now, the disabling's own included; none is pending.
	var page *client.DeadLetterPage
	waitFor(t, 10*time.Second, "the dead letters", func() bool {
		page, err = n.client.DeadLetters(ctx, ep.ID, "", 100)
		return err == nil && len(page.DeadLetters) == moves2+1
	})
	if p := pendingOf(t, n, ep.ID); len(p) != 0 {
		t.Fatalf("%d deliveries still pending on a disabled endpoint", len(p))
	}
	if got := rcv.movesOf(t, m2.ID); len(got) != 0 {
		t.Fatalf("moves of the second message acknowledged while failing: %v", got)
	}

	// 3. Back up: the dead letters, replayed, arrive, and the endpoint is enabled again.
	rcv.setMode("ok")
	replayed, err := n.client.ReplayDeadLetters(ctx, ep.ID)
	if err != nil || replayed != moves2+1 {
		t.Fatalf("ReplayDeadLetters = %d, %v; want %d", replayed, err, moves2+1)
	}
	waitFor(t, 10*time.Second, "the replayed dead letters", func() bool {
		return slices.Equal(rcv.movesOf(t, m2.ID), want2) && len(rcv.ackedOf(switchboard.AppEndpointDisabled)) == 1
	})
	if got, err := n.client.GetEndpoint(ctx, ep.ID); err != nil || got.DisabledAt != nil || got.FailingSince != nil {
		t.Fatalf("endpoint after the replay: %+v %v", got, err)
	}

	// None is lost: every event of the log the endpoint subscribes to was acknowledged.
	all, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, ev := range all {
		if switchboard.EventTypeMatches(ep.EventTypes, ev.Type) && rcv.acked[ev.ID] == nil {
			t.Errorf("event %s (%s) never reached the endpoint", ev.ID, ev.Type)
		}
	}
	if len(rcv.badSigs) != 0 {
		t.Fatalf("deliveries that do not verify: %v", rcv.badSigs)
	}
	if rcv.attempts < 2+1+2*5+3 {
		t.Fatalf("only %d attempts", rcv.attempts)
	}
}

// TestEndpointsFromConfigAndRotation: an endpoint of the configuration file receives events
// signed with its secret from the environment; an API endpoint's rotation signs with both
// secrets until the previous one expires.
func TestEndpointsFromConfigAndRotation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	cfgRcv, cfgSrv := newReceiver(t, clock)
	const cfgSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cfgRcv.secret = cfgSecret
	n := startNode(t, nodeOpts{clock: clock.Now,
		env: map[string]string{"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", "CRM_WEBHOOK_SECRET": cfgSecret},
		yaml: `endpoints:
  - name: crm
    url: ` + cfgSrv.URL + `/in
    event_types: ["consent.*"]
    secret_env: CRM_WEBHOOK_SECRET
`, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	eps, err := n.client.Endpoints(ctx)
	if err != nil || len(eps) != 1 || eps[0].ID != "ep_crm" || eps[0].Source != "config" || eps[0].Secret != "" {
		t.Fatalf("endpoints: %+v %v", eps, err)
	}
	if err := n.client.DeleteEndpoint(ctx, "ep_crm"); !client.IsCode(err, "endpoint_from_config") {
		t.Fatalf("deleting a configured endpoint: %v", err)
	}

	apiRcv, apiSrv := newReceiver(t, clock)
	ep, err := n.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: apiSrv.URL, EventTypes: []string{"consent.changed"}})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := n.client.RotateEndpointSecret(ctx, ep.ID, "", time.Hour)
	if err != nil || rot.ActiveSecrets != 2 || rot.Secret == ep.Secret {
		t.Fatalf("rotation: %+v %v", rot, err)
	}
	// The receiver still has the old secret: a delivery carries a signature for each.
	apiRcv.mu.Lock()
	apiRcv.secret = ep.Secret
	apiRcv.mu.Unlock()
	if _, err := n.client.SetConsent(ctx, "+14155550160", client.ConsentChange{State: switchboard.ConsentOptedIn, Evidence: "form"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "consent.changed at both endpoints", func() bool {
		return len(apiRcv.ackedOf(switchboard.AppConsentChanged)) == 1 && len(cfgRcv.ackedOf(switchboard.AppConsentChanged)) == 1
	})
	// After the overlap only the new secret signs.
	clock.Add(time.Hour)
	apiRcv.mu.Lock()
	apiRcv.secret = rot.Secret
	apiRcv.mu.Unlock()
	if _, err := n.client.SetConsent(ctx, "+14155550161", client.ConsentChange{State: switchboard.ConsentOptedOut, Evidence: "call"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the second consent.changed", func() bool { return len(apiRcv.ackedOf(switchboard.AppConsentChanged)) == 2 })
	for _, r := range []*receiver{apiRcv, cfgRcv} {
		r.mu.Lock()
		bad := r.badSigs
		r.mu.Unlock()
		if len(bad) != 0 {
			t.Fatalf("deliveries that do not verify: %v", bad)
		}
	}
}
