package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

var mask = content.MaskPhone

// resourceIDs are the IDs of one call, conversation and endpoint an env holds.
type resourceIDs struct {
	call, conversation, endpoint string
}

// fill puts the IDs into a route's path.
func (r resourceIDs) fill(path string) string {
	switch {
	case strings.HasPrefix(path, "/ui/calls/"):
		return strings.ReplaceAll(path, "{id}", r.call)
	case strings.HasPrefix(path, "/ui/conversations/"):
		return strings.ReplaceAll(path, "{id}", r.conversation)
	case strings.HasPrefix(path, "/ui/endpoints/"):
		return strings.ReplaceAll(path, "{id}", r.endpoint)
	}
	return path
}

// resources stores a call, a conversation (with an outbound and an inbound message), an
// endpoint with a dead letter, and a verification with a refusal.
func (e *env) resources() resourceIDs {
	e.t.Helper()
	ctx := e.t.Context()
	now := e.clock.now()
	c := &switchboard.Call{ID: switchboard.NewID("call"), Status: switchboard.CallQueued, To: "+14155550177", From: testSender,
		Flow: "appointment", FlowVersion: 3, Token: "tok", MaxAttempts: 2, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
		Path: []string{"greeting", "menu"}, Inputs: []switchboard.CallInput{{State: "menu", Digits: "1", Result: "matched"}}}
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	if _, _, err := e.store.CreateCall(ctx, c, nil); err != nil {
		e.t.Fatal(err)
	}
	m := e.message(func(m *switchboard.Message) { m.To = "+14155550178"; m.Body = "Your reminder for tomorrow" })
	in := &switchboard.InboundMessage{ID: switchboard.NewID("in"), ProviderSID: "SM" + strings.Repeat("a", 32), Channel: switchboard.ChannelSMS,
		From: m.To, To: testSender, Body: "Can we move it to 3pm?", ReceivedAt: now.Add(time.Minute)}
	if _, err := e.store.CreateInbound(ctx, in); err != nil {
		e.t.Fatal(err)
	}
	convs, _, err := e.store.ListConversations(ctx, switchboard.ConversationFilter{TheirNumber: m.To})
	if err != nil || len(convs) != 1 {
		e.t.Fatalf("conversation: %v %v", convs, err)
	}
	ep := &switchboard.Endpoint{ID: "ep_billing", URL: "https://billing.example.com/hooks", EventTypes: []string{"*"}, Source: "api",
		Secrets: []switchboard.EndpointSecret{{Secret: "whsec_" + strings.Repeat("A", 32)}}, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateEndpoint(ctx, ep); err != nil {
		e.t.Fatal(err)
	}
	v := &switchboard.Verification{ID: switchboard.NewID("ver"), Status: switchboard.VerificationPending, To: "+14155550179",
		Channel: switchboard.VerifySMS, Backend: "builtin", CodeLength: 6, Sends: 1, MaxSends: 5, MaxChecks: 5,
		ExpiresAt: now.Add(10 * time.Minute), CodeHash: "hash-of-code", CodeSalt: "salt", CodeSealed: "sealed-code-482913", CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateVerification(ctx, v, nil); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.RecordRefusal(ctx, &switchboard.Refusal{ID: "ref_" + strings.Repeat("7", 8), Reason: "rate_limited", Detail: "5 starts per hour",
		To: "+14155550179", RetryAfterSeconds: 600, At: now}, nil); err != nil {
		e.t.Fatal(err)
	}
	return resourceIDs{call: c.ID, conversation: convs[0].ID, endpoint: ep.ID}
}

// TestOperatorPages: calls, verifications, conversations, endpoints and senders show what an
// operator needs, masked numbers, and never a code; actions the node did not wire are not offered.
func TestOperatorPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Circuits = func() []Circuit { return []Circuit{{Provider: "twilio", State: "open"}} }
		c.Senders = []switchboard.Sender{{From: testSender, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "clinic"}}
		c.QueueStats = func(context.Context) ([]SenderQueue, error) {
			due := time.Date(2031, 5, 6, 11, 0, 0, 0, time.UTC)
			return []SenderQueue{{From: testSender, Ready: 7, Deferred: 2, OldestDue: &due},
				{From: "+15005550099", Ready: 10_000, ReadyCapped: true, Deferred: 1234}}, nil
		}
	})
	ids := e.resources()
	c := e.loggedIn()
	for _, tc := range []struct {
		path       string
		want, none []string
	}{
		{"/ui/calls", []string{ids.call, "appointment v3", "queued", mask("+14155550177")}, []string{"4155550177"}},
		{"/ui/calls?status=completed", []string{"No call with status completed"}, []string{ids.call}},
		{"/ui/calls/" + ids.call, []string{"greeting → menu", "matched", mask("+14155550177")}, []string{"Cancel this call"}},
		{"/ui/verifications", []string{"pending", mask("+14155550179"), "ref_77777777", "rate_limited", "600 s"}, []string{"482913", "hash-of-code", "sealed"}},
		{"/ui/verifications?to=%2B14155550100", []string{"No verification."}, []string{"data-label=\"Sends\""}},
		{"/ui/conversations", []string{mask("+14155550178"), testSender, "1 / 1"}, nil},
		{"/ui/conversations/" + ids.conversation, []string{"Your reminder for tomorrow", "Can we move it to 3pm?"}, []string{"Send reply"}},
		{"/ui/endpoints", []string{"ep_billing", "healthy", "https://billing.example.com/hooks"}, nil},
		{"/ui/endpoints/" + ids.endpoint, []string{"1 active", "No delivery yet."}, []string{"whsec_", "Rotate the signing secret"}},
		{"/ui/", []string{"+15005550099", ">10,000+<", ">1,234<"}, []string{">10000<"}},
		{"/ui/senders", []string{"circuit open", "1 segments/s", "clinic", "2031-05-06 11:00:00 UTC", "+15005550099", "no longer configured",
			">10,000+<", ">1,234<"}, []string{">10000<"}},
		{"/ui/optouts", []string{"Record", "Pool clinic"}, nil},
	} {
		r := e.do(c, "GET", tc.path, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, r.status, r.body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.text, w) {
				t.Errorf("GET %s: no %q", tc.path, w)
			}
		}
		for _, n := range tc.none {
			if strings.Contains(r.text, n) {
				t.Errorf("GET %s shows %q", tc.path, n)
			}
		}
	}
	if r := e.do(c, "GET", "/ui/calls?status=bogus", nil); r.status != http.StatusBadRequest {
		t.Errorf("unknown call status: %d", r.status)
	}
	if r := e.do(c, "GET", "/ui/calls/call_nope", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown call: %d", r.status)
	}
}

// TestOperatorActions: consent recorded with evidence (source dashboard), a reply through the
// acceptance hook (one message per form view), a call canceled, a secret rotated and shown once,
// dead letters replayed; bad input changes nothing.
func TestOperatorActions(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var replies []string
	var canceled []string
	replayed := 0
	e := newEnv(t, func(c *Config) {
		c.Senders = []switchboard.Sender{{From: testSender, Pool: "clinic"}}
		c.Reply = func(ctx context.Context, conv *switchboard.Conversation, body, actor, idem string) (*switchboard.Message, error) {
			mu.Lock()
			defer mu.Unlock()
			if body == "refuse me" {
				return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "opted_out", "%s opted out", "the recipient")
			}
			replies = append(replies, conv.TheirNumber+"|"+body+"|"+actor+"|"+idem)
			return &switchboard.Message{ID: "msg_reply"}, nil
		}
		c.CancelCall = func(ctx context.Context, id string) error {
			mu.Lock()
			defer mu.Unlock()
			canceled = append(canceled, id)
			return nil
		}
		c.NewSecret = func() string { return "whsec_" + strings.Repeat("N", 32) }
		c.OnReplay = func() { mu.Lock(); replayed++; mu.Unlock() }
	})
	ids := e.resources()
	c := e.loggedIn()
	token := e.csrf(c)
	post := func(path string, form url.Values) resp {
		form.Set("csrf", token)
		return e.do(c, "POST", path, form)
	}

	// Consent: refused without evidence, with an unknown scope or a bad number; recorded with.
	for _, bad := range []url.Values{
		{"phone": {"+14155550150"}, "state": {"opted_out"}, "evidence": {""}},
		{"phone": {"+14155550150"}, "state": {"opted_out"}, "evidence": {"asked by phone"}, "scope": {"nope"}},
		{"phone": {"not a number"}, "state": {"opted_out"}, "evidence": {"asked by phone"}},
		{"phone": {"+14155550150"}, "state": {"cleared"}, "evidence": {"asked by phone"}},
	} {
		if r := post("/ui/optouts", bad); r.status != http.StatusBadRequest {
			t.Errorf("consent %v: %d", bad, r.status)
		}
	}
	if h, _ := e.store.ConsentHistory(t.Context(), "+14155550150"); len(h) != 0 {
		t.Fatalf("refused consent forms recorded %d records", len(h))
	}
	r := post("/ui/optouts", url.Values{"phone": {"+1 415 555 0150"}, "state": {"opted_out"}, "scope": {"clinic"}, "evidence": {"Called support, ticket 4411"}})
	if r.status != http.StatusOK || !strings.Contains(r.text, "Recorded: "+mask("+14155550150")+" opted out for pool clinic.") {
		t.Fatalf("consent: %d\n%s", r.status, r.text)
	}
	h, err := e.store.ConsentHistory(t.Context(), "+14155550150")
	if err != nil || len(h) != 1 || h[0].Source != switchboard.ConsentFromDashboard || h[0].Scope != "clinic" ||
		h[0].Evidence != "Called support, ticket 4411" || !strings.HasPrefix(h[0].Actor, "dashboard:key:") {
		t.Fatalf("consent record: %+v %v", h, err)
	}

	// Reply: the nonce of the form view is the idempotency key; a refusal says why.
	page := e.do(c, "GET", "/ui/conversations/"+ids.conversation, nil)
	nonce := regexpFind(t, `name="nonce" value="([0-9a-f]+)"`, page.body)
	r = post("/ui/conversations/"+ids.conversation+"/reply", url.Values{"body": {"3pm works"}, "nonce": {nonce}})
	if r.status != http.StatusSeeOther || r.location != "/ui/conversations/"+ids.conversation+"?done=replied" {
		t.Fatalf("reply: %d %q\n%s", r.status, r.location, r.body)
	}
	if len(replies) != 1 || !strings.HasPrefix(replies[0], "+14155550178|3pm works|dashboard:key:") || !strings.HasSuffix(replies[0], "|dashboard-reply:"+nonce) {
		t.Fatalf("replies: %v", replies)
	}
	if r = post("/ui/conversations/"+ids.conversation+"/reply", url.Values{"body": {"refuse me"}, "nonce": {"n2"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.text, "Not sent: the recipient opted out") || !strings.Contains(r.text, "refuse me</textarea>") {
		t.Fatalf("refused reply: %d\n%s", r.status, r.text)
	}
	if r = post("/ui/conversations/"+ids.conversation+"/reply", url.Values{"body": {"  "}}); r.status != http.StatusBadRequest {
		t.Fatalf("empty reply: %d", r.status)
	}

	// Cancel a call.
	if r = post("/ui/calls/"+ids.call+"/cancel", url.Values{}); r.status != http.StatusSeeOther || len(canceled) != 1 || canceled[0] != ids.call {
		t.Fatalf("cancel call: %d %v", r.status, canceled)
	}

	// Rotate: the new secret is on the answer and stored beside the old one.
	r = post("/ui/endpoints/"+ids.endpoint+"/rotate", url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.text, "whsec_"+strings.Repeat("N", 32)) || !strings.Contains(r.text, "2 active") {
		t.Fatalf("rotate: %d\n%s", r.status, r.text)
	}
	if again := e.do(c, "GET", "/ui/endpoints/"+ids.endpoint, nil); strings.Contains(again.text, "whsec_") {
		t.Error("the new secret is shown again")
	}
	ep, err := e.store.GetEndpoint(t.Context(), ids.endpoint)
	if err != nil || len(ep.Secrets) != 2 {
		t.Fatalf("endpoint after rotation: %+v %v", ep, err)
	}
	if r = post("/ui/endpoints/"+ids.endpoint+"/replay", url.Values{}); r.status != http.StatusSeeOther || replayed != 1 {
		t.Fatalf("replay: %d, OnReplay called %d times", r.status, replayed)
	}
}

func regexpFind(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, s)
	}
	return m[1]
}
