package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

const phone = "+14155550150"

func (n *testNode) text(t *testing.T, body string) {
	t.Helper()
	n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": phone, "to": "+15005550006", "body": body})
}

// repliesTo returns the bodies the simulated phone received, in order.
func (n *testNode) repliesTo(t *testing.T, to string) []string {
	t.Helper()
	var out []string
	for _, m := range n.simMessages(t) {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

// assertBodyDigests fails unless every message stored to to whose body starts with prefix carries
// the body's SHA-256 and length (they outlive its redaction), and at least one does.
func (n *testNode) assertBodyDigests(t *testing.T, to, prefix string) {
	t.Helper()
	msgs, _, err := n.Store().ListMessages(context.Background(), switchboard.MessageFilter{To: to, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range msgs {
		if !strings.HasPrefix(m.Body, prefix) {
			continue
		}
		found++
		sum := sha256.Sum256([]byte(m.Body))
		if m.BodySHA256 != hex.EncodeToString(sum[:]) || m.BodyLength != utf8.RuneCountInString(m.Body) || m.Segments < 1 {
			t.Errorf("message %s (%q) is stored with body_sha256 %q, body_length %d, segments %d", m.ID, m.Body, m.BodySHA256, m.BodyLength, m.Segments)
		}
	}
	if found == 0 {
		t.Errorf("no stored message to %s starts with %q", to, prefix)
	}
}

func TestKeywordsStopStartHelp(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{yaml: `keywords:
  pools:
    default:
      languages:
        en:
          opt_out: [STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL]
          opt_in: [START, YES, UNSTOP]
          help: [HELP, INFO]
          opt_out_reply: "Acme: you are unsubscribed. Reply START to resubscribe."
          opt_in_reply: "Acme: you are subscribed again."
          help_reply: "Acme support: call +1 415 555 0100. Reply STOP to opt out."
`})
	ctx := context.Background()
	// A message accepted before the opt-out, due a moment later.
	early, err := n.client.Send(ctx, &client.SendRequest{To: phone, Body: "Your technician arrives at 3pm", SendAt: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}

	n.text(t, " stop ")
	c, err := n.Store().LatestConsent(ctx, phone, []string{"default", switchboard.ScopeAll})
	if err != nil || c == nil || c.State != switchboard.ConsentOptedOut || c.Source != switchboard.ConsentFromKeyword || !strings.Contains(c.Evidence, "STOP") {
		t.Fatalf("STOP did not record an opt-out with its source: %+v %v", c, err)
	}
	// The confirmation still reaches the phone (the one message an opted-out recipient gets).
	waitFor(t, 10*time.Second, "the opt-out confirmation", func() bool {
		r := n.repliesTo(t, phone)
		return len(r) == 1 && strings.Contains(r[0], "unsubscribed")
	})
	// New sends are refused at the API; the message accepted earlier ends blocked.
	if _, err := n.client.Send(ctx, &client.SendRequest{To: phone, Body: "Reminder"}); !client.IsCode(err, "recipient_opted_out") {
		t.Fatalf("send after STOP: %v", err)
	}
	got := n.waitStatus(t, early.ID, 10*time.Second, switchboard.StatusBlocked, switchboard.StatusDelivered)
	if got.Status != switchboard.StatusBlocked || got.Attempts != 0 {
		t.Fatalf("message queued before STOP: %s after %d attempts", got.Status, got.Attempts)
	}

	n.assertBodyDigests(t, phone, "Acme: you are unsubscribed")

	n.text(t, "START")
	waitFor(t, 10*time.Second, "the opt-in confirmation", func() bool { return len(n.repliesTo(t, phone)) == 2 })
	m, err := n.client.Send(ctx, &client.SendRequest{To: phone, Body: "Welcome back"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)

	n.text(t, "help")
	waitFor(t, 10*time.Second, "the help reply", func() bool {
		r := n.repliesTo(t, phone)
		return len(r) == 4 && r[3] == "Acme support: call +1 415 555 0100. Reply STOP to opt out."
	})
	// Not a keyword: only the exact word counts. Keywords are applied before the webhook is
	// answered, so once text returns, any reply would already be in the outbox.
	before, err := n.client.List(ctx, client.ListOptions{To: phone})
	if err != nil {
		t.Fatal(err)
	}
	n.text(t, "please stop texting me at night")
	after, err := n.client.List(ctx, client.ListOptions{To: phone})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Messages) != len(before.Messages) {
		t.Fatalf("a sentence containing stop queued a reply: %d messages, then %d", len(before.Messages), len(after.Messages))
	}
	hist, err := n.Store().ConsentHistory(ctx, phone)
	if err != nil || len(hist) != 2 || hist[1].State != switchboard.ConsentOptedIn {
		t.Fatalf("consent history: %+v %v", hist, err)
	}
}
