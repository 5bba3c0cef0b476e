package accept_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/inbound"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

const sender = "+15005550006"

// TestEveryPathSetsWhatTheConstructorSets (issue 17): every way Switchboard makes a message — an
// application's request, a keyword reply, a call's fallback SMS, WhatsApp's SMS leg, a
// verification's code — stores it with what switchboard.NewMessage sets: the body's SHA-256 and
// length (which outlive its redaction), its segments and encoding, a validity, and a "created"
// event that names who made it. Keyword replies lost their body hash once, when they built
// their message by hand.
func TestEveryPathSetsWhatTheConstructorSets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	cat := `
- name: missed_call
  version: 1
  locale: en
  category: transactional
  body: "We missed you, {{name}}: call us back — café hours 9–5."
  variables:
    name: {type: string, max_length: 20, example: "Ana"}
`
	if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(cat), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	senders := []switchboard.Sender{{From: sender, Pool: switchboard.DefaultPool}}
	svc := accept.New(accept.Config{Store: db, Senders: senders, Clock: clock, Consent: consent.New(db, clock),
		Templates: func() *templates.Catalog { return catalog }})
	wa := whatsapp.New(whatsapp.Config{Store: db, Messages: svc, Clock: clock})
	svc.UseWhatsApp(wa)

	made := map[string]*switchboard.Message{}
	// An application's request.
	m, _, err := svc.Accept(ctx, &switchboard.APIKey{ID: "key_1", Name: "app"}, &accept.Request{To: "+14155550100", Body: "Job 12 assigned"}, "")
	if err != nil {
		t.Fatal(err)
	}
	made["api"] = m
	// A keyword reply.
	in := &switchboard.InboundMessage{ID: "in_1", ProviderSID: "SM" + strings.Repeat("a", 32), From: "+14155550101", To: sender,
		Body: "HELP", Channel: switchboard.ChannelSMS, ReceivedAt: now}
	h := inbound.New(inbound.Config{Messages: svc, Senders: senders})
	if err := h.Reply(ctx, in, senders[0], "Acme: reply STOP to stop — help at acme.example", "keyword-reply:"+in.ProviderSID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	// A call's fallback SMS.
	sms := &voice.SMS{Messages: svc, Templates: func() *templates.Catalog { return catalog }, Senders: senders, Validity: time.Hour}
	id, skipped, err := sms.Fallback(ctx, &switchboard.Call{ID: "call_1", To: "+14155550102", From: sender, Status: "no-answer",
		Variables: map[string]string{"name": "Ana"}}, "missed_call")
	if err != nil || id == "" {
		t.Fatalf("call fallback: %q, %q, %v", id, skipped, err)
	}
	// WhatsApp's SMS leg of a failed WhatsApp message.
	orig, _, err := svc.Create(ctx, switchboard.MessageSpec{Channel: switchboard.ChannelWhatsApp, To: "+14155550103", From: sender,
		Body: "Your order shipped 📦", Validity: time.Hour, Actor: "test",
		WhatsApp: &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	code := 63016
	if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: orig.ID, Status: switchboard.StatusFailed, ErrorCode: &code, At: now}); err != nil {
		t.Fatal(err)
	}
	if n, err := wa.FallbackTick(ctx); err != nil || n != 1 {
		t.Fatalf("fallback legs: %d, %v", n, err)
	}
	// A verification's code.
	vs, err := verify.New(verify.Config{Store: db, Messages: svc, Clock: clock, Secret: []byte("fixture-verify-secret-0123456789abcdef"),
		From: sender, Pool: switchboard.DefaultPool, Limits: verify.DefaultLimits(), Pumping: verify.DefaultPumping()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Start(ctx, verify.StartRequest{To: "+14155550104"}, "key_1"); err != nil {
		t.Fatal(err)
	}

	all, _, err := db.ListMessages(ctx, switchboard.MessageFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		switch {
		case m.WhatsApp != nil && m.WhatsApp.FallbackOf == orig.ID:
			made["whatsapp leg"] = m
		case m.Metadata["verification_id"] != "":
			made["verification"] = m
		case m.Metadata["call_id"] != "":
			made["call fallback"] = m
		case m.Metadata[consent.ReplyToKey] != "":
			made["keyword reply"] = m
		}
	}
	for _, path := range []string{"api", "keyword reply", "call fallback", "whatsapp leg", "verification"} {
		t.Run(path, func(t *testing.T) {
			if made[path] == nil {
				t.Fatal("no message made")
			}
			m, err := db.GetMessage(ctx, made[path].ID)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(m.Body))
			segments, enc := switchboard.Segments(m.Body)
			switch {
			case m.Body == "":
				t.Fatal("no body")
			case m.BodySHA256 != hex.EncodeToString(sum[:]):
				t.Errorf("body_sha256 %q, want the body's", m.BodySHA256)
			case m.BodyLength != utf8.RuneCountInString(m.Body):
				t.Errorf("body_length %d, want %d", m.BodyLength, utf8.RuneCountInString(m.Body))
			case m.Segments != segments || m.Encoding != enc || m.Segments == 0:
				t.Errorf("segments %d %s, want %d %s", m.Segments, m.Encoding, segments, enc)
			case m.ValidUntil == nil:
				t.Error("no validity")
			case len(m.Events) == 0 || m.Events[0].Type != switchboard.EventCreated || m.Events[0].Actor == "" || m.Events[0].Detail == "":
				t.Errorf("first event: %+v", m.Events)
			}
		})
	}
}

// TestNoMessageBuiltByHand: outside the stores and benchmarks, no package builds a Message
// literal: every message is made by switchboard.NewMessage through this service.
func TestNoMessageBuiltByHand(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	skip := map[string]bool{"sqlite": true, "postgres": true, "storetest": true, "bench": true}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skip[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "&switchboard.Message{") {
			t.Errorf("%s builds a switchboard.Message by hand; make it with switchboard.NewMessage through internal/accept", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
