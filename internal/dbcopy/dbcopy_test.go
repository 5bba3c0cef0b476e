package dbcopy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

var (
	_ Source = (*sqlite.Reader)(nil)
	_ Source = (*postgres.Reader)(nil)
	_ Target = (*sqlite.DB)(nil)
	_ Target = (*postgres.DB)(nil)
)

var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

const (
	fromA = "+15005550006"
	fromB = "+15005550007"
	toA   = "+15551230001"
	toB   = "+15551230002"
)

// fixture is what fill made that the tests use afterwards.
type fixture struct {
	delivered, scheduled, inFlight, failed *switchboard.Message
	idem                                   switchboard.Idempotency
	pendingSID                             string
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func newMessage(id string, created time.Time) *switchboard.Message {
	return &switchboard.Message{
		ID: id, Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional,
		To: toA, From: fromA, Pool: switchboard.DefaultPool, Body: "Your technician is on the way", Segments: 1,
		Encoding: switchboard.EncodingGSM7, NextAttemptAt: created, CreatedAt: created, UpdatedAt: created,
	}
}

// fill puts a bit of everything into s through the Store interface: every table gets rows and
// every nullable column a value somewhere (TestFixtureCoversEveryColumn keeps it so).
func fill(t *testing.T, s switchboard.Store) fixture {
	t.Helper()
	ctx := t.Context()
	var fx fixture
	check(t, "SyncSenders", s.SyncSenders(ctx, []switchboard.Sender{
		{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1.5, Burst: 3, Pool: switchboard.DefaultPool},
		{From: fromB, Kind: switchboard.SenderTollFree, Rate: -1, Pool: "marketing", Tenants: []string{"acme"}},
	}, at(0)))
	// A sender removed through the API keeps a tombstone (deleted_at), which a copy carries.
	removed := switchboard.Sender{From: "+15005550099", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: switchboard.DefaultPool}
	check(t, "CreateSender", s.CreateSender(ctx, &removed, at(0)))
	check(t, "DeleteSender", s.DeleteSender(ctx, removed.From, at(time.Second)))
	check(t, "CreateTenant", s.CreateTenant(ctx, &switchboard.Tenant{ID: "clinic", Name: "Clinic", Environment: switchboard.EnvStaging,
		StagingMode: switchboard.StagingAllowlist, AllowedRecipients: []string{"+15551230001"}, DailyMessages: 10, DailySegments: 20,
		DailySpendCents: 300, CreatedAt: at(0), UpdatedAt: at(time.Second)}))
	check(t, "PutTenantCredentials", s.PutTenantCredentials(ctx, &switchboard.TenantCredentials{Tenant: "clinic",
		AccountSID: "AC" + strings.Repeat("c", 32), Kind: switchboard.CredentialAPIKey, APIKeySID: "SK" + strings.Repeat("c", 32),
		Secret: "sbenc:v1:k1:sealedsecret", WebhookToken: "sbenc:v1:k1:sealedhook", ValidatedAt: at(time.Second), UpdatedAt: at(2 * time.Second)}))
	check(t, "CreateAPIKey", s.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_0001", Name: "shop", Hash: "hash-shop", CreatedAt: at(0)}))
	check(t, "CreateAPIKey", s.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_0002", Name: "old", Hash: "hash-old", CreatedAt: at(time.Second)}))
	check(t, "CreateSession", s.CreateSession(ctx, &switchboard.DashboardSession{Hash: "session-hash", Subject: "user:admin",
		APIKeyHash: "hash-shop", CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	check(t, "RevokeAPIKey", s.RevokeAPIKey(ctx, "key_0002", at(2*time.Second)))

	// Delivered, created with an idempotency key, through a whole life: claim, attempt, SID,
	// callbacks (their payloads with odd whitespace and key order, which json columns keep).
	m := newMessage("msg_0001", at(time.Minute))
	m.APIKeyID, m.Metadata = "key_0001", map[string]string{"order": "42", "note": "Grüße"}
	fx.idem = switchboard.Idempotency{APIKeyID: "key_0001", Key: "order-42", RequestHash: "hash-42"}
	fx.delivered, _, _ = s.CreateMessage(ctx, m, &fx.idem)
	if fx.delivered == nil {
		t.Fatal("CreateMessage with idempotency failed")
	}
	if got := must[[]*switchboard.Message](t, "ClaimMessages")(s.ClaimMessages(ctx, switchboard.ClaimParams{
		From: fromA, Owner: "node-a", Now: at(61 * time.Second), LeaseUntil: at(time.Hour), Limit: 1,
	})); len(got) != 1 {
		t.Fatalf("claimed %d messages", len(got))
	}
	must[*switchboard.Message](t, "UpdateMessage")(s.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, AttemptInFlight: ptr(true),
		AttemptStartedAt: ptr(at(62 * time.Second)), IncAttempts: true, At: at(62 * time.Second),
		Events: []*switchboard.Event{{MessageID: m.ID, Type: switchboard.EventAttempt, Actor: "dispatcher", Detail: "attempt 1", At: at(62 * time.Second)}},
	}))
	must[*switchboard.Message](t, "UpdateMessage")(s.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: "node-a", ProviderSID: ptr("SM0001"), AttemptInFlight: ptr(false), ReleaseLease: true, At: at(63 * time.Second),
	}))
	for i, st := range []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered} {
		r := must[switchboard.CallbackResult](t, "IngestCallback")(s.IngestCallback(ctx, &switchboard.Callback{
			ProviderSID: "SM0001", ProviderStatus: string(st), Status: st,
			Payload:    json.RawMessage(fmt.Sprintf(`{"MessageStatus": %q,   "MessageSid":"SM0001"}`, st)),
			ReceivedAt: at(time.Duration(64+i) * time.Second),
		}))
		if !r.Applied {
			t.Fatalf("callback %s not applied: %+v", st, r)
		}
	}
	// Its price, fetched once it was delivered (migration 0140).
	check(t, "RecordPrice", s.RecordPrice(ctx, m.ID, &switchboard.Price{Text: "-0.00790", Unit: "USD", Micros: 7900}, at(70*time.Second)))

	// Scheduled MMS from another pool, with media, send_at and valid_until.
	m = newMessage("msg_0002", at(2*time.Minute))
	m.Status, m.Channel, m.Category, m.From, m.To, m.Pool = switchboard.StatusScheduled, switchboard.ChannelMMS, switchboard.CategoryMarketing, fromB, toB, "marketing"
	m.Body, m.Encoding, m.Segments = "Sale 🎉 — 20 % off", switchboard.EncodingUCS2, 2
	m.MediaURLs = []string{"https://example.com/a.jpg", "https://example.com/b.png?x=1&y=2"}
	m.SendAt, m.ValidUntil, m.NextAttemptAt = ptr(at(time.Hour)), ptr(at(2*time.Hour)), at(time.Hour)
	m.Timezone, m.Template, m.TemplateVersion = "America/Chicago", "sale", 3
	m.BodySHA256, m.BodyLength = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 17
	fx.scheduled, _, _ = s.CreateMessage(ctx, m, nil)

	// Claimed and in flight when the node stopped: the lease and the attempt stay.
	m = newMessage("msg_0003", at(3*time.Minute))
	m.To = toB
	fx.inFlight, _, _ = s.CreateMessage(ctx, m, nil)
	must[[]*switchboard.Message](t, "ClaimMessages")(s.ClaimMessages(ctx, switchboard.ClaimParams{
		From: fromA, Owner: "node-b", Now: at(181 * time.Second), LeaseUntil: at(time.Hour), Limit: 1,
	}))
	must[*switchboard.Message](t, "UpdateMessage")(s.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: "node-b", Status: switchboard.StatusSending, AttemptInFlight: ptr(true),
		AttemptStartedAt: ptr(at(182 * time.Second)), IncAttempts: true, At: at(182 * time.Second),
	}))

	// Failed with the provider's error.
	m = newMessage("msg_0004", at(4*time.Minute))
	m.Body, m.RedactedAt = "", ptr(at(5*time.Minute)) // retention removed its body
	fx.failed, _, _ = s.CreateMessage(ctx, m, nil)
	must[*switchboard.Message](t, "UpdateMessage")(s.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, Status: switchboard.StatusFailed, ErrorCode: ptr(30007), ErrorMessage: ptr("Message filtered"), At: at(241 * time.Second),
		Events: []*switchboard.Event{{MessageID: m.ID, Type: switchboard.EventProviderError, Actor: "twilio", ErrorCode: 30007,
			Detail: "carrier filtering", Payload: json.RawMessage(`{"code":30007}`), At: at(241 * time.Second)}},
	}))
	if fx.scheduled == nil || fx.inFlight == nil || fx.failed == nil {
		t.Fatal("CreateMessage failed")
	}

	// A callback for a SID that no message has yet: kept pending.
	fx.pendingSID = "SMlate"
	if r := must[switchboard.CallbackResult](t, "IngestCallback")(s.IngestCallback(ctx, &switchboard.Callback{
		ProviderSID: fx.pendingSID, ProviderStatus: "sent", Status: switchboard.StatusSent,
		ErrorMessage: "", Payload: json.RawMessage(`{"MessageSid":"SMlate","MessageStatus":"sent"}`), ReceivedAt: at(183 * time.Second),
	})); !r.Pending {
		t.Fatalf("callback not pending: %+v", r)
	}
	// A callback with an error, applied (a message that failed after sending).
	must[*switchboard.Message](t, "UpdateMessage")(s.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: "msg_0004", ProviderSID: ptr("SM0004"), At: at(242 * time.Second),
	}))
	must[switchboard.CallbackResult](t, "IngestCallback")(s.IngestCallback(ctx, &switchboard.Callback{
		ProviderSID: "SM0004", ProviderStatus: "undelivered", Status: switchboard.StatusUndelivered, ErrorCode: 30003,
		ErrorMessage: "Unreachable destination handset", Payload: json.RawMessage(`{"ErrorCode":"30003"}`), ReceivedAt: at(243 * time.Second),
	}))

	// Inbound, sticky senders, consent.
	for i, in := range []*switchboard.InboundMessage{
		{ID: "inb_0001", ProviderSID: "SMin1", Channel: switchboard.ChannelSMS, From: toA, To: fromA, Body: "STOP", ReceivedAt: at(5 * time.Minute)},
		{ID: "inb_0002", ProviderSID: "MMin2", Channel: switchboard.ChannelMMS, From: toB, To: fromB, Body: "look", NumMedia: 1,
			MediaURLs: []string{"https://api.twilio.com/media/ME1"}, Payload: json.RawMessage(`{"Body": "look", "NumMedia": "1"}`), ReceivedAt: at(6 * time.Minute),
			Route: "support", RouteEndpoints: []string{"ep_0001"}}, // its event has targets
	} {
		if created := must[bool](t, "CreateInbound")(s.CreateInbound(ctx, in)); !created {
			t.Fatalf("inbound %d not created", i)
		}
	}
	// WhatsApp: a message with options and an SMS fallback, settled with its leg; a window
	// announced as closing; an inbound message routed to named endpoints (event targets).
	wa := newMessage("msg_0005", at(6*time.Minute))
	wa.Channel = switchboard.ChannelWhatsApp
	wa.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: "HXb5b62575e6e4ff6129ad7c8efe1f983e", ContentVariables: `{"1":"Ann"}`,
		Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 60}
	must[*switchboard.Message](t, "CreateMessage")(func() (*switchboard.Message, error) {
		m, _, err := s.CreateMessage(ctx, wa, nil)
		return m, err
	}())
	wa2 := newMessage("msg_0006", at(6*time.Minute+time.Second))
	wa2.Channel = switchboard.ChannelWhatsApp
	wa2.WhatsApp = &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 600}
	must[*switchboard.Message](t, "CreateMessage")(func() (*switchboard.Message, error) {
		m, _, err := s.CreateMessage(ctx, wa2, nil)
		return m, err
	}())
	must[bool](t, "SettleFallback")(s.SettleFallback(ctx, "msg_0005", "msg_0001", &switchboard.Event{
		Type: switchboard.EventNote, Actor: "whatsapp", Detail: "SMS leg", At: at(7 * time.Minute)}))
	if created := must[bool](t, "CreateInbound")(s.CreateInbound(ctx, &switchboard.InboundMessage{ID: "inb_0003", ProviderSID: "SMwa3",
		Channel: switchboard.ChannelWhatsApp, From: toA, To: fromA, Body: "hi", RouteEndpoints: []string{"ep_0001"},
		Route: "support", ReceivedAt: at(6 * time.Minute)})); !created {
		t.Fatal("inbound 3 not created")
	}
	must[[]*switchboard.Conversation](t, "ClaimWindowClosing")(s.ClaimWindowClosing(ctx, at(24*time.Hour), 2*time.Hour, 10))
	// The media of inbound 2 queued, and its download claimed (in flight at the move).
	must[int](t, "EnqueueMedia")(s.EnqueueMedia(ctx, &switchboard.InboundMessage{ID: "inb_0002", ProviderSID: "MMin2",
		MediaURLs: []string{"https://api.twilio.com/media/ME1"}, MediaContentTypes: []string{"image/jpeg"}}, at(6*time.Minute)))
	must[[]*switchboard.MediaDownload](t, "ClaimMedia")(s.ClaimMedia(ctx, switchboard.MediaClaim{Owner: "node_a", Now: at(6 * time.Minute),
		LeaseUntil: at(10 * time.Minute), Limit: 10}))

	// A medium stored in the database (media_store: database).
	blob := []byte("\xff\xd8\xff\xe0 a small jpeg")
	sum := sha256.Sum256(blob)
	if err := s.(switchboard.MediaBlobs).PutMediaBlob(ctx, hex.EncodeToString(sum[:]), blob); err != nil {
		t.Fatal(err)
	}

	must[string](t, "AssignSender")(s.AssignSender(ctx, switchboard.DefaultPool, toA, fromA, []string{fromA}))
	must[string](t, "AssignSender")(s.AssignSender(ctx, "marketing", toB, fromB, []string{fromB}))
	for _, c := range []*switchboard.ConsentRecord{
		{Phone: toA, Scope: switchboard.ScopeAll, State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromKeyword, Evidence: "inb_0001: STOP", Actor: "recipient", At: at(5 * time.Minute)},
		{Phone: toA, Scope: "marketing", State: switchboard.ConsentOptedIn, Source: switchboard.ConsentFromAPI, Actor: "key_0001", At: at(7 * time.Minute)},
		{Phone: toB, Scope: switchboard.ScopeAll, State: switchboard.ConsentCleared, Source: switchboard.ConsentFromDashboard, Actor: "admin", At: at(8 * time.Minute)},
	} {
		check(t, "RecordConsent", s.RecordConsent(ctx, c))
	}

	// A built-in alert that fired.
	ev := must[*switchboard.AppEvent](t, "NewAppEvent")(switchboard.NewAppEvent("alert.delivery_rate_low", at(8*time.Minute), switchboard.DeliveryRateAlertData{Sender: fromA}))
	if ok := must[bool](t, "TransitionAlert")(s.TransitionAlert(ctx, switchboard.AlertTransition{Key: "delivery_rate:" + fromA,
		From: switchboard.AlertOK, To: switchboard.AlertFired, At: at(8 * time.Minute), Event: ev})); !ok {
		t.Fatal("alert transition not applied")
	}

	// Endpoints and deliveries: delivered, retrying, leased, and an endpoint disabled for
	// failing too long (its endpoint.disabled event not fanned out yet).
	check(t, "CreateEndpoint", s.CreateEndpoint(ctx, &switchboard.Endpoint{ID: "ep_0001", URL: "https://app.example/hooks",
		Description: "orders", EventTypes: []string{"*"}, Secrets: []switchboard.EndpointSecret{{Secret: "whsec_b25l"}},
		Source: switchboard.EndpointFromAPI, CreatedAt: at(8 * time.Minute), UpdatedAt: at(8 * time.Minute)}))
	must[*switchboard.Endpoint](t, "RotateEndpointSecret")(s.RotateEndpointSecret(ctx, "ep_0001", "whsec_dHdv", at(time.Hour), at(9*time.Minute)))
	check(t, "SyncEndpoints", s.SyncEndpoints(ctx, []*switchboard.Endpoint{{ID: "ep_cfg", URL: "https://crm.example/in",
		EventTypes: []string{"consent.*"}, Secrets: []switchboard.EndpointSecret{{Secret: "whsec_Y2Zn"}}}}, at(9*time.Minute)))
	must[int](t, "FanOutEvents")(s.FanOutEvents(ctx, at(10*time.Minute), 100))
	ds := must[[]*switchboard.Delivery](t, "ClaimDeliveries")(s.ClaimDeliveries(ctx, switchboard.DeliveryClaim{
		Owner: "node-a", Now: at(10 * time.Minute), LeaseUntil: at(time.Hour), Limit: 100}))
	var cfgN int
	for i, d := range ds {
		r := switchboard.DeliveryResult{ID: d.ID, Owner: "node-a", At: at(11 * time.Minute), DisableAfter: time.Minute}
		switch {
		case d.EndpointID == "ep_cfg":
			r.At = at(time.Duration(11+cfgN) * time.Minute)
			r.StatusCode, r.Error, r.NextAttemptAt = 500, "HTTP 500", ptr(at(time.Hour))
			cfgN++
		case i%3 == 0:
			r.Delivered, r.StatusCode = true, 204
		case i%3 == 1:
			r.StatusCode, r.Error, r.NextAttemptAt = 503, "HTTP 503", ptr(at(20*time.Minute))
		default:
			continue // left leased
		}
		if _, err := s.FinishDelivery(ctx, r); err != nil && !(d.EndpointID == "ep_cfg" && switchboard.IsKind(err, switchboard.ECONFLICT)) {
			t.Fatalf("FinishDelivery: %v", err) // the disabling dead-letters the rest of ep_cfg's
		}
	}
	// Retention up to the first inbound message: its body, its message.received event's text
	// and msg_0001's body are redacted.
	must[int](t, "Redact")(s.Redact(ctx, at(5*time.Minute+time.Second), at(12*time.Minute), 100))
	fillVerify(t, s)
	fillCalls(t, s)
	fillRedacted(t, s)
	return fx
}

// fillRedacted adds a finished verification and a finished call that retention redacts, so that
// their redacted_at columns hold a value.
func fillRedacted(t *testing.T, s switchboard.Store) {
	t.Helper()
	ctx := t.Context()
	v := &switchboard.Verification{ID: "ver_0002", Status: switchboard.VerificationPending, To: toB, Channel: switchboard.VerifySMS,
		Backend: "builtin", CodeLength: 6, Sends: 1, MaxSends: 5, MaxChecks: 5, ExpiresAt: at(11 * time.Minute),
		CodeHash: "h2", CodeSalt: "s2", CodeSealed: "x2", CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
	check(t, "CreateVerification", s.CreateVerification(ctx, v, nil))
	v.Status = switchboard.VerificationApproved
	check(t, "UpdateVerification", s.UpdateVerification(ctx, v, nil))
	c := &switchboard.Call{ID: "call_0002", Status: switchboard.CallQueued, To: toB, From: fromA, Flow: "appointment",
		FlowVersion: 1, Variables: map[string]string{"clinic": "Eastside"}, Token: "tok_0002", MaxAttempts: 1,
		CreatedAt: at(2 * time.Minute), UpdatedAt: at(2 * time.Minute)}
	c.AddEvent(switchboard.CallEvent{At: c.CreatedAt, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	c = must[*switchboard.Call](t, "CreateCall")(func() (*switchboard.Call, error) {
		c, _, err := s.CreateCall(ctx, c, nil)
		return c, err
	}())
	c.Status = switchboard.CallCompleted
	check(t, "UpdateCall", s.UpdateCall(ctx, c, nil))
	if n := must[int](t, "Redact")(s.Redact(ctx, at(5*time.Minute+time.Second), at(12*time.Minute), 100)); n != 1 {
		t.Fatalf("Redact of the finished call: %d", n)
	}
}

// fillVerify writes a verification (every column set), rate counters, a refusal and a blocked
// prefix.
func fillVerify(t *testing.T, s switchboard.Store) {
	t.Helper()
	ctx := t.Context()
	fb := at(time.Minute)
	v := &switchboard.Verification{ID: "ver_0001", Status: switchboard.VerificationPending, To: toA, Channel: switchboard.VerifySMS,
		Locale: "en", Country: "US", UserRef: "u-1", ClientIP: "203.0.113.1", Backend: "builtin", ProviderSID: "VE1", CodeLength: 6,
		Sends: 1, Checks: 1, MaxSends: 5, MaxChecks: 5, SendAttempts: []switchboard.VerificationSend{{Channel: switchboard.VerifySMS,
			MessageID: "msg_0001", CallID: "CA1", Reason: "start", At: at(0)}}, FallbackAt: &fb, ExpiresAt: at(10 * time.Minute),
		APIKeyID: "key_0001", CodeHash: "h", CodeSalt: "s", CodeSealed: "x", CreatedAt: at(0), UpdatedAt: at(0),
		Metadata: map[string]string{"job_id": "1042"}}
	check(t, "CreateVerification", s.CreateVerification(ctx, v, nil))
	_ = must[switchboard.RateResult](t, "HitRates")(s.HitRates(ctx, []switchboard.RateHit{{Key: "phone:" + toA, Window: time.Hour, Limit: 5}}, at(0)))
	check(t, "RecordRefusal", s.RecordRefusal(ctx, &switchboard.Refusal{ID: "ref_0001", Reason: "rate_limited_phone", Detail: "d",
		To: toA, Country: "US", UserRef: "u-1", ClientIP: "203.0.113.1", VerificationID: "ver_0001", RetryAfterSeconds: 60, At: at(0)}, nil))
	check(t, "BlockPrefix", s.BlockPrefix(ctx, switchboard.PrefixBlock{Prefix: "+1415555", Reason: "pumping", Until: at(time.Hour), At: at(0)}, nil))
}

// fillCalls adds a call created with an idempotency key, claimed (leased) and given a provider
// SID, so that every column of calls holds a value.
func fillCalls(t *testing.T, s switchboard.Store) {
	t.Helper()
	ctx := t.Context()
	due := at(30 * time.Minute)
	c := &switchboard.Call{ID: "call_0001", Status: switchboard.CallQueued, To: toA, From: fromA, Flow: "appointment",
		FlowVersion: 1, Variables: map[string]string{"clinic": "Northside"}, Metadata: map[string]string{"job_id": "1042"}, Token: "tok_0001", NextAttemptAt: &due,
		MaxAttempts: 2, CreatedAt: at(29 * time.Minute), UpdatedAt: at(29 * time.Minute)}
	c.AddEvent(switchboard.CallEvent{At: c.CreatedAt, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	must[*switchboard.Call](t, "CreateCall")(func() (*switchboard.Call, error) {
		c, _, err := s.CreateCall(ctx, c, &switchboard.Idempotency{APIKeyID: "key_0001", Key: "call-1", RequestHash: "hash-call"})
		return c, err
	}())
	claimed := must[[]*switchboard.Call](t, "ClaimCalls")(s.ClaimCalls(ctx, "node-a", due, due.Add(time.Minute), 10))
	if len(claimed) != 1 {
		t.Fatalf("ClaimCalls: %d calls", len(claimed))
	}
	claimed[0].ProviderSID = "CA0001"
	check(t, "UpdateCall", s.UpdateCall(ctx, claimed[0], nil))
}

// setLastUsed sets the one column no store method writes yet (api_keys.last_used_at), so that
// the copy is shown to carry it.
func setLastUsed(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	check(t, "open", err)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), "UPDATE api_keys SET last_used_at = ? WHERE id = 'key_0001'", at(10*time.Minute).UnixMicro())
	check(t, "set last_used_at", err)
}

// filledSQLite makes a SQLite store file filled by fill and closes it.
func filledSQLite(t *testing.T) (path string, fx fixture) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "source.db")
	s := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(t.Context(), path))
	fx = fill(t, s)
	check(t, "Close", s.Close())
	setLastUsed(t, path)
	return path, fx
}

func openReader(t *testing.T, path string) *sqlite.Reader {
	t.Helper()
	r := must[*sqlite.Reader](t, "OpenReader")(sqlite.OpenReader(t.Context(), path))
	t.Cleanup(func() { r.Close() })
	return r
}

func newSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "target.db")))
	t.Cleanup(func() { db.Close() })
	return db
}

func pgReader(t *testing.T, db *postgres.DB) *postgres.Reader {
	t.Helper()
	r := must[*postgres.Reader](t, "OpenReader")(db.OpenReader(t.Context()))
	t.Cleanup(func() { r.Close() })
	return r
}

// jsonbColumns hold JSON that PostgreSQL keeps as jsonb: equal as JSON, not as text.
var jsonbColumns = map[string]bool{"messages.media_urls": true, "messages.metadata": true, "inbound_messages.media_urls": true,
	"app_events.data": true, "endpoints.event_types": true, "endpoints.secrets": true, "verifications.send_attempts": true, "verifications.metadata": true,
	"calls.data": true, "messages.whatsapp": true}

// dump reads every copied table of src as rows of column → value.
func dump(t *testing.T, src Source) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, table := range Tables {
		cols, rows, err := src.Export(t.Context(), table)
		check(t, "Export "+table, err)
		out[table] = []map[string]any{}
		for row, err := range rows {
			check(t, "Export "+table, err)
			m := map[string]any{}
			for i, c := range cols {
				v := row[i]
				if s, ok := v.(string); ok && jsonbColumns[table+"."+c] {
					var j any
					check(t, "decode "+table+"."+c, json.Unmarshal([]byte(s), &j))
					v = j
				}
				m[c] = v
			}
			out[table] = append(out[table], m)
		}
	}
	return out
}

// sameRows compares every row of every copied table.
func sameRows(t *testing.T, want, got Source) {
	t.Helper()
	if diff := cmp.Diff(dump(t, want), dump(t, got)); diff != "" {
		t.Fatalf("rows differ (-source +target):\n%s", diff)
	}
}

// reads is what the API reads through the Store.
type reads struct {
	Messages []*switchboard.Message
	Keys     []*switchboard.APIKey
	Inbound  []*switchboard.InboundMessage
	Senders  []switchboard.Sender
	Consent  map[string][]*switchboard.ConsentRecord
	Replay   *switchboard.Message

	AppEvents  []*switchboard.AppEvent
	Endpoints  []*switchboard.Endpoint
	Deliveries map[string][]*switchboard.Delivery

	Verification *switchboard.Verification
	Refusals     []*switchboard.Refusal
	Block        *switchboard.PrefixBlock
	Calls        []*switchboard.Call
	Tenants      []*switchboard.Tenant
}

func readAll(t *testing.T, s switchboard.Store, fx fixture) reads {
	t.Helper()
	ctx := t.Context()
	var r reads
	for _, id := range []string{"msg_0001", "msg_0002", "msg_0003", "msg_0004"} {
		r.Messages = append(r.Messages, must[*switchboard.Message](t, "GetMessage")(s.GetMessage(ctx, id)))
	}
	r.Keys = must[[]*switchboard.APIKey](t, "ListAPIKeys")(s.ListAPIKeys(ctx, ""))
	r.Inbound, _, _ = s.ListInbound(ctx, switchboard.InboundFilter{Limit: 100})
	r.Senders = must[[]switchboard.Sender](t, "ListSenders")(s.ListSenders(ctx))
	r.Consent = map[string][]*switchboard.ConsentRecord{}
	for _, p := range []string{toA, toB} {
		r.Consent[p] = must[[]*switchboard.ConsentRecord](t, "ConsentHistory")(s.ConsentHistory(ctx, p))
	}
	r.AppEvents = must[[]*switchboard.AppEvent](t, "ListAppEvents")(s.ListAppEvents(ctx, switchboard.AppEventFilter{Limit: 1000}))
	r.Endpoints = must[[]*switchboard.Endpoint](t, "ListEndpoints")(s.ListEndpoints(ctx, ""))
	r.Deliveries = map[string][]*switchboard.Delivery{}
	for _, e := range r.Endpoints {
		r.Deliveries[e.ID], _, _ = s.ListDeliveries(ctx, switchboard.DeliveryFilter{EndpointID: e.ID, Limit: 1000})
	}
	r.Verification = must[*switchboard.Verification](t, "GetVerification")(s.GetVerification(ctx, "ver_0001"))
	r.Refusals, _, _ = s.ListRefusals(ctx, switchboard.RefusalFilter{Limit: 100})
	r.Block = must[*switchboard.PrefixBlock](t, "PrefixBlocked")(s.PrefixBlocked(ctx, "+1415555", at(0)))
	r.Calls = must[[]*switchboard.Call](t, "ListCalls")(s.ListCalls(ctx, switchboard.CallFilter{Before: "", Limit: 100}))
	r.Tenants = must[[]*switchboard.Tenant](t, "ListTenants")(s.ListTenants(ctx))
	return r
}

// jsonEqual compares JSON payloads as JSON (jsonb may respace them).
var jsonEqual = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
})

func sameReads(t *testing.T, want, got reads) {
	t.Helper()
	if diff := cmp.Diff(want, got, jsonEqual); diff != "" {
		t.Fatalf("store reads differ (-source +target):\n%s", diff)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	check(t, "read", err)
	return sha256.Sum256(b)
}

func counts(t *testing.T, db Target) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	tables := must[[]string](t, "Tables")(db.Tables(t.Context()))
	for _, tb := range tables {
		out[tb] = must[int64](t, "Count")(db.Count(t.Context(), tb))
	}
	return out
}

// targets are the engines a copy can go to; PostgreSQL's are skipped without a test server.
var targets = []struct {
	name string
	open func(t *testing.T) (Target, switchboard.Store, func(t *testing.T) sourceCloser)
}{
	{"sqlite", func(t *testing.T) (Target, switchboard.Store, func(t *testing.T) sourceCloser) {
		db := newSQLite(t)
		return db, db, func(t *testing.T) sourceCloser { return openReader(t, db.Path()) }
	}},
	{"postgres", func(t *testing.T) (Target, switchboard.Store, func(t *testing.T) sourceCloser) {
		db := pgtest.NewDB(t)
		return db, db, func(t *testing.T) sourceCloser { return pgReader(t, db) }
	}},
}

// sourceCloser is a Reader: on PostgreSQL its snapshot keeps the tables from being truncated
// until it is closed.
type sourceCloser interface {
	Source
	Close() error
}

// sameTargetRows compares every row of src with a fresh snapshot of the target.
func sameTargetRows(t *testing.T, src Source, open func(t *testing.T) sourceCloser) {
	t.Helper()
	r := open(t)
	defer r.Close()
	sameRows(t, src, r)
}

// TestCopy copies a SQLite store filled through the Store interface into each engine and checks
// every row, every read, and that the copy goes on working: the idempotency key replays, the
// pending callback applies when its SID appears, new rows get new IDs, sticky senders stick. A
// second copy is refused and changes nothing; with Force it replaces the target's rows.
func TestCopy(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path, fx := filledSQLite(t)
			sum := fileSum(t, path)
			srcStore := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(ctx, path))
			want := readAll(t, srcStore, fx)
			check(t, "Close", srcStore.Close())

			src := openReader(t, path)
			dst, store, dstReader := tg.open(t)
			rep, err := Copy(ctx, src, dst, Options{BeforeEmpty: func([]TableCount) { t.Error("BeforeEmpty called for an empty target") }})
			check(t, "Copy", err)
			if len(rep.Tables) != len(Tables) || len(rep.Emptied) != 0 {
				t.Fatalf("report: %+v", rep)
			}
			for _, tr := range rep.Tables {
				if tr.Source == 0 || tr.Copied != tr.Source || tr.Target != tr.Source {
					t.Errorf("report for %s: %+v (the fixture fills every table)", tr.Table, tr)
				}
			}
			sameTargetRows(t, src, dstReader)
			sameReads(t, want, readAll(t, store, fx))

			// The idempotency key replays the copied message, and a different request is refused.
			m := newMessage("msg_0099", at(time.Hour))
			got, replayed, err := store.CreateMessage(ctx, m, &fx.idem)
			if err != nil || !replayed || got.ID != fx.delivered.ID {
				t.Fatalf("replay on the copy: %v %v %v", got, replayed, err)
			}
			other := fx.idem
			other.RequestHash = "another"
			if _, _, err := store.CreateMessage(ctx, newMessage("msg_0098", at(time.Hour)), &other); !switchboard.IsKind(err, switchboard.EUNPROCESSABLE) {
				t.Fatalf("reused key with another request: %v", err)
			}
			// The pending callback applies when its SID appears, with new event IDs.
			maxEvent := lastEventID(want.Messages)
			upd := must[*switchboard.Message](t, "UpdateMessage")(store.UpdateMessage(ctx, switchboard.MessageUpdate{
				ID: fx.inFlight.ID, LeaseOwner: "node-b", ProviderSID: ptr(fx.pendingSID), AttemptInFlight: ptr(false), At: at(190 * time.Second),
			}))
			if upd.Status != switchboard.StatusSent {
				t.Fatalf("pending callback not applied on the copy: status %s", upd.Status)
			}
			after := must[*switchboard.Message](t, "GetMessage")(store.GetMessage(ctx, fx.inFlight.ID))
			if n := len(after.Events) - len(want.Messages[2].Events); n < 1 || after.Events[len(after.Events)-1].ID <= maxEvent {
				t.Fatalf("events after the copy: %d new, last id %d, copied up to %d", n, after.Events[len(after.Events)-1].ID, maxEvent)
			}
			// A new consent record gets an ID past the copied ones; sticky senders stick.
			c := &switchboard.ConsentRecord{Phone: toB, Scope: switchboard.ScopeAll, State: switchboard.ConsentOptedOut,
				Source: switchboard.ConsentFromAPI, Actor: "test", At: at(time.Hour)}
			check(t, "RecordConsent", store.RecordConsent(ctx, c))
			if c.ID <= 3 {
				t.Fatalf("new consent record got id %d, copied ones are 1..3", c.ID)
			}
			if from := must[string](t, "AssignSender")(store.AssignSender(ctx, switchboard.DefaultPool, toA, fromB, []string{fromA, fromB})); from != fromA {
				t.Fatalf("sticky sender on the copy: %s, want %s", from, fromA)
			}

			// A second copy is refused and changes nothing.
			before := counts(t, dst)
			_, err = Copy(ctx, src, dst, Options{})
			var ne *NotEmptyError
			if !errors.As(err, &ne) || len(ne.Held) < 2 || ne.Held[0].Table != "tenants" || ne.Held[1].Table != "messages" {
				t.Fatalf("copy into a non-empty target: %v", err)
			}
			if diff := cmp.Diff(before, counts(t, dst)); diff != "" {
				t.Fatalf("a refused copy changed the target:\n%s", diff)
			}
			if _, err := store.GetMessage(ctx, "msg_0099"); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
				t.Fatalf("msg_0099: %v", err) // the replay created nothing
			}

			// With Force the target's rows are replaced by the source's.
			var warned []TableCount
			rep, err = Copy(ctx, src, dst, Options{Force: true, BeforeEmpty: func(held []TableCount) { warned = held }})
			check(t, "Copy --force", err)
			if len(warned) == 0 || !slices.Equal(warned, rep.Emptied) {
				t.Fatalf("BeforeEmpty got %v, report %v", warned, rep.Emptied)
			}
			sameTargetRows(t, src, dstReader)
			sameReads(t, want, readAll(t, store, fx))
			if h := must[[]*switchboard.ConsentRecord](t, "ConsentHistory")(store.ConsentHistory(ctx, toB)); len(h) != 1 {
				t.Fatalf("consent history of %s after the forced copy: %d records, want 1", toB, len(h))
			}

			check(t, "Close", src.Close())
			if fileSum(t, path) != sum {
				t.Fatal("the copy wrote to the source file")
			}
		})
	}
}

func lastEventID(msgs []*switchboard.Message) int64 {
	var id int64
	for _, m := range msgs {
		for _, e := range m.Events {
			id = max(id, e.ID)
		}
	}
	return id
}

// TestRoundTrip copies SQLite to PostgreSQL and back to a new SQLite file: every row and every
// read comes back as it was.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, fx := filledSQLite(t)
	pg := pgtest.NewDB(t)
	_, err := Copy(ctx, openReader(t, path), pg, Options{})
	check(t, "Copy to postgres", err)
	back := filepath.Join(t.TempDir(), "back.db")
	dst := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(ctx, back))
	t.Cleanup(func() { dst.Close() })
	_, err = Copy(ctx, pgReader(t, pg), dst, Options{})
	check(t, "Copy to sqlite", err)
	sameRows(t, openReader(t, path), openReader(t, back))
	src := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(ctx, path))
	defer src.Close()
	sameReads(t, readAll(t, src, fx), readAll(t, dst, fx))
}

// TestFixtureCoversEveryColumn: the fixture gives every column of every table a non-NULL value
// somewhere, so that the tests above show each column copied (a new column must be added there).
func TestFixtureCoversEveryColumn(t *testing.T) {
	t.Parallel()
	path, _ := filledSQLite(t)
	r := openReader(t, path)
	for _, table := range Tables {
		cols, rows, err := r.Export(t.Context(), table)
		check(t, "Export", err)
		seen := make([]bool, len(cols))
		for row, err := range rows {
			check(t, "Export", err)
			for i, v := range row {
				seen[i] = seen[i] || v != nil
			}
		}
		for i, c := range cols {
			if !seen[i] {
				t.Errorf("%s.%s is NULL in every row of the fixture", table, c)
			}
		}
	}
}

// TestTablesCoverSchemas: Tables, runtimeTables and derivedTables name every table of both engines' schemas.
func TestTablesCoverSchemas(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		got := must[[]string](t, "Tables")(newSQLite(t).Tables(t.Context()))
		want := slices.Sorted(slices.Values(slices.Concat(Tables, derivedTables, []string{"readiness", "senders_version"})))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("SQLite tables (-dbcopy.Tables +schema):\n%s", diff)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		got := must[[]string](t, "Tables")(pgtest.NewDB(t).Tables(t.Context()))
		want := slices.Sorted(slices.Values(append(slices.Concat(Tables, derivedTables), runtimeTables...)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("PostgreSQL tables (-dbcopy.Tables +schema):\n%s", diff)
		}
	})
}

// failingSource fails its export of one table half-way.
type failingSource struct {
	Source
	table string
}

var errBroken = errors.New("the source broke")

func (f failingSource) Export(ctx context.Context, table string) ([]string, iter.Seq2[[]any, error], error) {
	cols, rows, err := f.Source.Export(ctx, table)
	if err != nil || table != f.table {
		return cols, rows, err
	}
	return cols, func(yield func([]any, error) bool) {
		for row, err := range rows {
			if !yield(row, err) || err != nil {
				return
			}
			yield(nil, errBroken)
			return
		}
	}, nil
}

// TestFailedCopyChangesNothing: a copy that fails half-way, even a forced one that emptied the
// target first, leaves the target as it was (one transaction).
func TestFailedCopyChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path, _ := filledSQLite(t)
			src := openReader(t, path)
			dst, _, _ := tg.open(t)
			if _, err := Copy(ctx, failingSource{src, "webhook_events"}, dst, Options{}); !errors.Is(err, errBroken) {
				t.Fatalf("copy from a broken source: %v", err)
			}
			for tb, n := range counts(t, dst) {
				if n != seededTables[tb] {
					t.Fatalf("a failed copy left %d rows in %s", n, tb)
				}
			}
			_, err := Copy(ctx, src, dst, Options{})
			check(t, "Copy", err)
			before := counts(t, dst)
			if _, err := Copy(ctx, failingSource{src, "consent_records"}, dst, Options{Force: true}); !errors.Is(err, errBroken) {
				t.Fatalf("forced copy from a broken source: %v", err)
			}
			if diff := cmp.Diff(before, counts(t, dst)); diff != "" {
				t.Fatalf("a failed forced copy changed the target:\n%s", diff)
			}
		})
	}
}

// TestUnknownTableRefused: a source table this version does not know would be left behind, so
// the copy is refused before anything is written.
func TestUnknownTableRefused(t *testing.T) {
	t.Parallel()
	path, _ := filledSQLite(t)
	db, err := sql.Open("sqlite", path)
	check(t, "open", err)
	_, err = db.ExecContext(t.Context(), "CREATE TABLE templates (id TEXT PRIMARY KEY)")
	check(t, "create table", err)
	db.Close()
	dst := newSQLite(t)
	if _, err := Copy(t.Context(), openReader(t, path), dst, Options{Force: true}); err == nil || !strings.Contains(err.Error(), `table "templates" that this version of switchboard does not know`) {
		t.Fatalf("copy of a source with an unknown table: %v", err)
	}
	for tb, n := range counts(t, dst) {
		if n != seededTables[tb] {
			t.Fatalf("refused copy wrote %d rows to %s", n, tb)
		}
	}
}

// TestImportChecksEmptinessItself: each engine's Import refuses a non-empty table in its own
// transaction (Copy checks first, but a writer may come in between), and leaves a table for
// which read has no columns empty.
func TestImportChecksEmptinessItself(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dst, store, _ := tg.open(t)
			check(t, "CreateAPIKey", store.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_1", Name: "x", Hash: "h", CreatedAt: t0}))
			none := func(context.Context, string) ([]string, iter.Seq2[[]any, error], error) { return nil, nil, nil }
			if _, err := dst.Import(ctx, []string{"messages", "api_keys"}, false, none); err == nil || !strings.Contains(err.Error(), "api_keys is not empty") {
				t.Fatalf("Import into a non-empty table: %v", err)
			}
			copied, err := dst.Import(ctx, []string{"api_keys", "senders"}, true, none)
			check(t, "Import with truncate", err)
			if copied["api_keys"] != 0 || counts(t, dst)["api_keys"] != 0 {
				t.Fatalf("truncating import: copied %v, %d keys left", copied, counts(t, dst)["api_keys"])
			}
		})
	}
}
