package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// fixtureChecks read each FixtureData back through the store API, in schema order.
var fixtureChecks = []struct {
	data  FixtureData
	check func(t *testing.T, st switchboard.Store, data map[FixtureData]bool)
}{
	{FixtureMessages, checkFixtureMessages},
	{FixtureConsent, checkFixtureConsent},
	{FixtureSenderBuckets, checkFixtureSenderBuckets},
	{FixturePolicy, checkFixturePolicy},
	{FixtureEventLog, checkFixtureEventLog},
	{FixtureEventRedaction, checkFixtureEventRedaction},
	{FixtureConversations, checkFixtureConversations},
	{FixtureDashboard, checkFixtureDashboard},
	{FixtureAlerts, checkFixtureAlerts},
	{FixtureVerifications, checkFixtureVerifications},
	{FixtureCalls, checkFixtureCalls},
	{FixtureWhatsApp, checkFixtureWhatsApp},
	{FixtureReadiness, checkFixtureReadiness},
	{FixtureMediaDownloads, checkFixtureMediaDownloads},
	{FixtureRetention, checkFixtureRetention},
	{FixtureMediaBlobs, checkFixtureMediaBlobs},
	{FixtureMessageMetadata, checkFixtureMessageMetadata},
	{FixtureCallMetadata, checkFixtureCallMetadata},
}

// upgradeAt returns UpgradeTime plus d.
func upgradeAt(d time.Duration) time.Time { return UpgradeTime.Add(d) }

// sameJSON reports whether two JSON texts hold the same value (PostgreSQL's jsonb reformats).
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func sameTime(p *time.Time, want time.Time) bool { return p != nil && p.Equal(want) }

// messageIDs lists the messages with one metadata pair.
func messageIDs(t *testing.T, st switchboard.Store, key, value string) []string {
	t.Helper()
	ms, _, err := st.ListMessages(t.Context(), switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: key, Value: value}, Limit: 10})
	if err != nil {
		t.Errorf("messages with metadata %s=%s: %v", key, value, err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func checkFixtureMessages(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	ctx := t.Context()
	m, err := st.GetMessage(ctx, "msg_upgrade_1")
	if err != nil {
		t.Fatalf("message written at schema 1: %v", err)
	}
	if m.Body != "upgrade fixture" || m.To != "+14155550100" || m.From != "+15005550006" ||
		m.Status != switchboard.StatusDelivered || m.ProviderSID != "SMupgrade1" || m.Metadata["job"] != "1042" ||
		!m.CreatedAt.Equal(UpgradeTime) || !m.UpdatedAt.Equal(upgradeAt(time.Second)) || m.Segments != 1 ||
		m.Encoding != switchboard.EncodingGSM7 || m.Category != switchboard.CategoryTransactional {
		t.Errorf("message written at schema 1 reads back as %+v", m)
	}
	if len(m.Events) != 2 || m.Events[0].Status != switchboard.StatusQueued || m.Events[1].Status != switchboard.StatusDelivered ||
		m.Events[1].Actor != "provider" || !m.Events[1].At.Equal(upgradeAt(time.Second)) {
		t.Errorf("timeline written at schema 1 reads back as %d events: %+v", len(m.Events), m.Events)
	}
	k, err := st.GetAPIKeyByHash(ctx, "upgradehash")
	if err != nil || k.ID != "key_upgrade" || k.Name != "fixture" || !k.CreatedAt.Equal(UpgradeTime) {
		t.Errorf("API key written at schema 1: %+v, %v", k, err)
	}
	// The idempotency key written then still replays its message.
	again := newMessage(upgradeAt(time.Hour))
	got, replayed, err := st.CreateMessage(ctx, again, &switchboard.Idempotency{APIKeyID: "key_upgrade", Key: "idem-upgrade", RequestHash: "reqhash-upgrade"})
	if err != nil || !replayed || got.ID != "msg_upgrade_1" {
		t.Errorf("idempotency key written at schema 1: replayed=%v %+v, %v", replayed, got, err)
	}
	// Usage came later (0140): its migration counts the messages stored before it.
	day := switchboard.UTCDay(UpgradeTime)
	if u, err := st.ListUsage(ctx, switchboard.UsageFilter{Tenant: switchboard.DefaultTenant, From: day, To: day}); err != nil ||
		len(u) != 1 || u[0].Messages < 1 || u[0].Segments < u[0].Messages {
		t.Errorf("usage of the messages stored before 0140: %+v, %v", u, err)
	}
	in, _, err := st.ListInbound(ctx, switchboard.InboundFilter{From: "+14155550100", Limit: 10})
	if err != nil || len(in) != 1 || in[0].ID != "in_upgrade_1" || in[0].Body != "STOP" || in[0].ProviderSID != "SMinupgrade1" ||
		!in[0].ReceivedAt.Equal(UpgradeTime) {
		t.Errorf("inbound message written at schema 1: %+v, %v", in, err)
	}
	senders, err := st.ListSenders(ctx)
	if err != nil || len(senders) != 1 || senders[0].From != "+15005550006" || senders[0].Kind != switchboard.SenderLongCode ||
		senders[0].Rate != 1 || senders[0].Burst != 2 || senders[0].Pool != "default" || len(senders[0].Tenants) != 0 ||
		senders[0].Source != switchboard.SenderFromConfig {
		t.Errorf("senders written at schema 1: %+v, %v", senders, err)
	}
	if from, err := st.AssignSender(ctx, "default", "+14155550100", "+15005550099", []string{"+15005550099", "+15005550006"}); err != nil || from != "+15005550006" {
		t.Errorf("sticky sender written at schema 1: %q, %v", from, err)
	}
	// Conversations came later: the migration that added them threads the old messages.
	convs, _, err := st.ListConversations(ctx, switchboard.ConversationFilter{TheirNumber: "+14155550100", Limit: 10})
	if err != nil || len(convs) != 1 || convs[0].OurNumber != "+15005550006" || convs[0].Channel != switchboard.ChannelSMS ||
		convs[0].InboundCount != 1 || convs[0].OutboundCount != 1 {
		t.Errorf("conversation of the schema-1 messages after the upgrade: %v", err)
		for _, c := range convs {
			t.Logf("  %+v", c)
		}
	}
	// The metadata index came later too: its migration indexed the old message.
	if ids := messageIDs(t, st, "job", "1042"); !reflect.DeepEqual(ids, []string{"msg_upgrade_1"}) {
		t.Errorf("messages with job=1042 after the upgrade: %v, want the schema-1 message", ids)
	}
}

func checkFixtureConsent(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	c, err := st.LatestConsent(t.Context(), "+14155550100", []string{switchboard.ScopeAll})
	if err != nil || c == nil || c.State != switchboard.ConsentOptedOut || c.Source != switchboard.ConsentFromKeyword ||
		c.Evidence != "STOP" || !c.At.Equal(UpgradeTime) {
		t.Errorf("consent written at schema 2: %+v, %v", c, err)
	}
}

func checkFixtureSenderBuckets(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	l, ok := st.(interface {
		Reserve(ctx context.Context, s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (time.Time, bool, error)
	})
	if !ok {
		t.Fatalf("%T has no rate limiter, yet a fixture wrote its buckets", st)
	}
	// A new bucket is full: the segment would go now. This one was spent until 2030.
	at, ok, err := l.Reserve(t.Context(), switchboard.Sender{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 2}, 1, time.Now(), time.Minute)
	if err != nil || ok {
		t.Errorf("reserving on the bucket spent until 2030: at %v, ok=%v, %v", at, ok, err)
	}
}

func checkFixturePolicy(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	m, err := st.GetMessage(t.Context(), "msg_upgrade_policy")
	if err != nil {
		t.Fatalf("message with policy columns: %v", err)
	}
	if m.Timezone != "America/Chicago" || m.Template != "appointment" || m.TemplateVersion != 3 ||
		m.BodySHA256 != "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" || m.BodyLength != 42 ||
		m.Body != "" || !sameTime(m.RedactedAt, upgradeAt(time.Hour)) || m.To != "+14155550110" {
		t.Errorf("message with policy columns reads back as %+v", m)
	}
}

func checkFixtureEventLog(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	ctx := t.Context()
	evs, err := st.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{"message.delivered"}, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].ID != "evt_upgrade_1" || evs[0].Version != 1 || !evs[0].At.Equal(UpgradeTime) ||
		!sameJSON(evs[0].Data, []byte(`{"id":"msg_upgrade_1"}`)) {
		t.Errorf("app event written with the event log: %v", err)
		for _, e := range evs {
			t.Logf("  %+v %s", e, e.Data)
		}
	}
	ep, err := st.GetEndpoint(ctx, "ep_upgrade_1")
	if err != nil || ep.URL != "https://hooks.example.test/upgrade" || ep.Description != "fixture endpoint" ||
		!reflect.DeepEqual(ep.EventTypes, []string{"message.*"}) || len(ep.Secrets) != 1 || ep.Secrets[0].Secret != "whsec_upgrade" ||
		ep.Source != "api" || !ep.CreatedAt.Equal(UpgradeTime) {
		t.Errorf("endpoint written with the event log: %+v, %v", ep, err)
	}
	ds, _, err := st.ListDeliveries(ctx, switchboard.DeliveryFilter{EndpointID: "ep_upgrade_1", Status: switchboard.DeliveryDead, Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].ID != "dlv_upgrade_1" || ds[0].EventID != "evt_upgrade_1" || ds[0].Attempts != 5 ||
		ds[0].LastStatusCode != 500 || ds[0].LastError != "upgrade fixture error" || !sameTime(ds[0].LastAttemptAt, upgradeAt(time.Minute)) {
		t.Errorf("delivery written with the event log: %v", err)
		for _, d := range ds {
			t.Logf("  %+v", d)
		}
	}
}

func checkFixtureEventRedaction(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	evs, err := st.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{"message.received"}, Limit: 10})
	var found *switchboard.AppEvent
	for _, e := range evs {
		if e.ID == "evt_upgrade_2" {
			found = e
		}
	}
	if err != nil || found == nil || !sameJSON(found.Data, []byte(`{"body":""}`)) || !found.At.Equal(UpgradeTime) {
		t.Errorf("redacted app event: %+v, %v", found, err)
	}
}

func checkFixtureConversations(t *testing.T, st switchboard.Store, data map[FixtureData]bool) {
	ctx := t.Context()
	c, err := st.GetConversation(ctx, "conv_upgrade_wa")
	if err != nil || c.Channel != switchboard.ChannelWhatsApp || c.OurNumber != "+15005550007" || c.TheirNumber != "+14155550101" ||
		c.InboundCount != 1 || c.OutboundCount != 0 || !sameTime(c.LastInboundAt, UpgradeTime) || c.LastOutboundAt != nil ||
		!c.CreatedAt.Equal(UpgradeTime) || !c.LastMessageAt.Equal(UpgradeTime) {
		t.Errorf("conversation written at its schema: %+v, %v", c, err)
	}
	// The routed event goes to its target alone: ep_upgrade_2 takes every event type too.
	if _, err := st.FanOutEvents(ctx, upgradeAt(time.Hour), 100); err != nil {
		t.Fatalf("fanning out the routed event: %v", err)
	}
	targeted := func(ep string) (n int) {
		ds, _, err := st.ListDeliveries(ctx, switchboard.DeliveryFilter{EndpointID: ep, Limit: 100})
		if err != nil {
			t.Errorf("deliveries of %s: %v", ep, err)
		}
		for _, d := range ds {
			if d.EventID == "evt_upgrade_3" {
				n++
			}
		}
		return n
	}
	if a, b := targeted("ep_upgrade_1"), targeted("ep_upgrade_2"); a != 1 || b != 0 {
		t.Errorf("the routed event fanned out to ep_upgrade_1 %d times and to ep_upgrade_2 %d times, want 1 and 0", a, b)
	}
}

func checkFixtureDashboard(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	s, err := st.GetSession(t.Context(), "sessionhash-upgrade", upgradeAt(time.Hour))
	if err != nil || s == nil || s.Subject != "admin" || s.APIKeyHash != "upgradehash" || !s.ExpiresAt.Equal(upgradeAt(24*time.Hour)) ||
		!s.CreatedAt.Equal(UpgradeTime) {
		t.Errorf("dashboard session: %+v, %v", s, err)
	}
}

func checkFixtureAlerts(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	states, err := st.AlertStates(t.Context())
	if err != nil || states["queue_depth"] != switchboard.AlertFired {
		t.Errorf("alert states: %v, %v", states, err)
	}
}

func verificationStore(t *testing.T, st switchboard.Store) switchboard.VerificationStore {
	t.Helper()
	vs, ok := st.(switchboard.VerificationStore)
	if !ok {
		t.Fatalf("%T is no VerificationStore", st)
	}
	return vs
}

func checkFixtureVerifications(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	ctx := t.Context()
	vs := verificationStore(t, st)
	v, err := vs.GetVerification(ctx, "ver_upgrade_1")
	if err != nil {
		t.Fatalf("verification: %v", err)
	}
	if v.Status != switchboard.VerificationPending || v.To != "+14155550102" || v.Channel != switchboard.VerifySMS || v.Backend != "builtin" ||
		v.CodeLength != 6 || v.Sends != 1 || v.MaxSends != 5 || v.MaxChecks != 5 || !v.ExpiresAt.Equal(upgradeAt(10*time.Minute)) ||
		v.CodeHash != "h" || v.CodeSalt != "s" || v.CodeSealed != "x" || v.Version != 1 || v.RedactedAt != nil ||
		len(v.SendAttempts) != 1 || v.SendAttempts[0].MessageID != "msg_upgrade_1" || !v.SendAttempts[0].At.Equal(UpgradeTime) {
		t.Errorf("verification reads back as %+v", v)
	}
	for _, tenant := range []string{switchboard.DefaultTenant, ""} {
		if p, err := vs.PendingVerification(ctx, tenant, "+14155550102", upgradeAt(time.Minute)); err != nil || p == nil || p.ID != "ver_upgrade_1" {
			t.Errorf("pending verification (tenant %q): %+v, %v", tenant, p, err)
		}
	}
	// Verification metadata came later (0160): the old verification has none, and a search by
	// metadata answers.
	if v.Metadata != nil {
		t.Errorf("verification stored without metadata reads back with %v", v.Metadata)
	}
	if got, _, err := vs.ListVerifications(ctx, switchboard.VerificationFilter{Metadata: &switchboard.MetadataMatch{Key: "job", Value: "1042"}}); err != nil || len(got) != 0 {
		t.Errorf("verifications by metadata after the upgrade: %v, %v", got, err)
	}
	// Migration 0150 made the pending verification one per number and tenant: the one written
	// before still holds tenant default's place, and leaves another tenant's free.
	second := newVerification("+14155550102", upgradeAt(2*time.Minute))
	if err := vs.CreateVerification(ctx, second, nil); !switchboard.IsKind(err, switchboard.ECONFLICT) || switchboard.ErrorCodeOf(err) != "verification_pending" {
		t.Errorf("a second pending verification of tenant default beside the one written before: %v, want verification_pending", err)
	}
	second.Tenant = "upgrade-other"
	if err := vs.CreateVerification(ctx, second, nil); err != nil {
		t.Errorf("another tenant's pending verification beside the one written before: %v", err)
	}
	rs, _, err := vs.ListRefusals(ctx, switchboard.RefusalFilter{Tenant: switchboard.DefaultTenant, To: "+14155550102", Limit: 10})
	if err != nil || len(rs) != 1 || rs[0].ID != "ref_upgrade_1" || rs[0].Reason != "rate_limited" || rs[0].RetryAfterSeconds != 60 ||
		!rs[0].At.Equal(UpgradeTime) || rs[0].Tenant != switchboard.DefaultTenant {
		t.Errorf("refusals: %+v, %v", rs, err)
	}
	b, err := vs.PrefixBlocked(ctx, "+88216", upgradeAt(time.Hour))
	if err != nil || b == nil || b.Reason != "fraud" || !b.Until.Equal(upgradeAt(365*24*time.Hour)) {
		t.Errorf("prefix block: %+v, %v", b, err)
	}
	r, err := vs.HitRates(ctx, []switchboard.RateHit{{Key: "phone:+14155550102", Window: time.Hour, Limit: 10, Peek: true}}, upgradeAt(time.Minute))
	if err != nil || len(r.Counts) != 1 || r.Counts[0] != 3 {
		t.Errorf("rate counter: %+v, %v", r, err)
	}
}

func checkFixtureCalls(t *testing.T, st switchboard.Store, data map[FixtureData]bool) {
	ctx := t.Context()
	c, err := st.GetCall(ctx, "call_upgrade_1")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if c.Status != switchboard.CallCompleted || c.To != "+14155550103" || c.From != "+15005550006" || c.Flow != "reminder" ||
		c.FlowVersion != 2 || c.Variables["name"] != "Ada" || c.Metadata["visit"] != "77" || c.Token != "tok_upgrade" ||
		c.ProviderSID != "CAupgrade1" || c.Version != 1 || !c.CreatedAt.Equal(UpgradeTime) || len(c.Timeline) != 1 ||
		c.Timeline[0].Status != switchboard.CallCompleted {
		t.Errorf("call reads back as %+v", c)
	}
	if byToken, err := st.GetCallByToken(ctx, "tok_upgrade"); err != nil || byToken.ID != "call_upgrade_1" {
		t.Errorf("call by token: %+v, %v", byToken, err)
	}
	// The call metadata index came later: its migration indexed the old call.
	cs, err := st.ListCalls(ctx, switchboard.CallFilter{Metadata: &switchboard.MetadataMatch{Key: "visit", Value: "77"}, Before: "", Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].ID != "call_upgrade_1" {
		t.Errorf("calls with visit=77 after the upgrade: %d, %v", len(cs), err)
	}
}

func checkFixtureWhatsApp(t *testing.T, st switchboard.Store, data map[FixtureData]bool) {
	ctx := t.Context()
	m, err := st.GetMessage(ctx, "msg_upgrade_wa")
	if err != nil {
		t.Fatalf("WhatsApp message: %v", err)
	}
	if m.Channel != switchboard.ChannelWhatsApp || m.WhatsApp == nil || m.WhatsApp.ContentSID != "HXupgrade" ||
		m.WhatsApp.Fallback != switchboard.FallbackSMS || m.WhatsApp.FallbackAfterSeconds != 300 {
		t.Errorf("WhatsApp message reads back as %+v (options %+v)", m, m.WhatsApp)
	}
	wa, ok := st.(switchboard.WhatsAppStore)
	if !ok {
		t.Fatalf("%T is no WhatsAppStore", st)
	}
	cands, err := wa.FallbackCandidates(ctx, upgradeAt(10*time.Minute), 10)
	found := false
	for _, c := range cands {
		found = found || c.Message.ID == "msg_upgrade_wa"
	}
	if err != nil || !found {
		t.Errorf("fallback candidates: %d, %v; want msg_upgrade_wa among them", len(cands), err)
	}
	if !data[FixtureConversations] {
		return
	}
	// The window of conv_upgrade_wa was announced: it is not claimed again.
	closing, err := wa.ClaimWindowClosing(ctx, upgradeAt(23*time.Hour+30*time.Minute), time.Hour, 10)
	for _, c := range closing {
		if c.ID == "conv_upgrade_wa" {
			t.Errorf("an announced window claimed again: %+v", c)
		}
	}
	if err != nil {
		t.Errorf("window closing: %v", err)
	}
}

func checkFixtureReadiness(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	if err := st.Ping(t.Context()); err != nil {
		t.Errorf("ping over the readiness row written before: %v", err)
	}
}

func checkFixtureMediaDownloads(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	ds, err := st.ClaimMedia(t.Context(), switchboard.MediaClaim{Owner: "upgrade", Now: upgradeAt(time.Minute), LeaseUntil: upgradeAt(2 * time.Minute), Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("claiming the queued download: %d, %v", len(ds), err)
	}
	d := ds[0]
	if d.ProviderSID != "SMinupgrademms" || d.Index != 0 || d.InboundID != "in_upgrade_mms" || d.Channel != switchboard.ChannelMMS ||
		d.From != "+14155550104" || d.To != "+15005550006" || d.URL != "https://api.twilio.com/upgrade/Media/ME0" ||
		d.DeclaredType != "image/jpeg" || !d.CreatedAt.Equal(UpgradeTime) {
		t.Errorf("queued download reads back as %+v", d)
	}
}

func checkFixtureRetention(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	v, err := verificationStore(t, st).GetVerification(t.Context(), "ver_upgrade_2")
	if err != nil || v.Status != switchboard.VerificationApproved || !sameTime(v.RedactedAt, upgradeAt(time.Hour)) {
		t.Errorf("redacted verification: %+v, %v", v, err)
	}
}

func checkFixtureMediaBlobs(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	mb, ok := st.(switchboard.MediaBlobs)
	if !ok {
		t.Fatalf("%T is no MediaBlobs", st)
	}
	b, err := mb.GetMediaBlob(t.Context(), "184db4c944959c1ef9d6b305bab6de1d212ff9331806e1e4976d3a38d7d783e8")
	if err != nil || string(b) != UpgradeBlob {
		t.Errorf("media blob: %q, %v", b, err)
	}
}

func checkFixtureMessageMetadata(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	if ids := messageIDs(t, st, "order", "A-9"); !reflect.DeepEqual(ids, []string{"msg_upgrade_meta"}) {
		t.Errorf("messages with order=A-9: %v", ids)
	}
}

func checkFixtureCallMetadata(t *testing.T, st switchboard.Store, _ map[FixtureData]bool) {
	cs, err := st.ListCalls(t.Context(), switchboard.CallFilter{Metadata: &switchboard.MetadataMatch{Key: "visit", Value: "88"}, Before: "", Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].ID != "call_upgrade_meta" || cs[0].Metadata["visit"] != "88" {
		t.Errorf("calls with visit=88: %d, %v", len(cs), err)
	}
}

// upgradedStoreWorks checks that an upgraded store takes new work of the kinds whose tables
// migrations changed: a message, a routed app event, a queued media download, and one pending
// verification per number and tenant.
func upgradedStoreWorks(ctx context.Context, st switchboard.Store) error {
	m := newMessage(upgradeAt(time.Minute))
	if _, _, err := st.CreateMessage(ctx, m, nil); err != nil {
		return fmt.Errorf("CreateMessage: %w", err)
	}
	if got, err := st.GetMessage(ctx, m.ID); err != nil || got.Body != m.Body {
		return fmt.Errorf("message created after the upgrade: %+v, %w", got, err)
	}
	ev := &switchboard.AppEvent{ID: newID("evt"), Type: "message.received", Version: 1, At: upgradeAt(time.Minute),
		Data: json.RawMessage(`{"id":"x"}`), Targets: []string{"ep_nowhere"}}
	if err := st.AppendAppEvent(ctx, ev); err != nil {
		return fmt.Errorf("AppendAppEvent (routed): %w", err)
	}
	in := &switchboard.InboundMessage{ID: newID("in"), ProviderSID: newID("MM"), Channel: switchboard.ChannelMMS,
		From: "+14155550199", To: "+15005550006", NumMedia: 1, MediaURLs: []string{"https://api.twilio.com/x/Media/ME1"},
		ReceivedAt: upgradeAt(time.Minute)}
	if _, err := st.CreateInbound(ctx, in); err != nil {
		return fmt.Errorf("CreateInbound: %w", err)
	}
	if n, err := st.EnqueueMedia(ctx, in, upgradeAt(time.Minute)); err != nil || n != 1 {
		return fmt.Errorf("EnqueueMedia: %d, %w", n, err)
	}
	vs, ok := st.(switchboard.VerificationStore)
	if !ok {
		return fmt.Errorf("%T is no VerificationStore", st)
	}
	phone := "+14155550198"
	if err := vs.CreateVerification(ctx, newVerification(phone, upgradeAt(time.Minute)), nil); err != nil {
		return fmt.Errorf("CreateVerification: %w", err)
	}
	err := vs.CreateVerification(ctx, newVerification(phone, upgradeAt(2*time.Minute)), nil)
	if !switchboard.IsKind(err, switchboard.ECONFLICT) {
		if err == nil {
			err = errors.New("accepted")
		}
		return fmt.Errorf("a second pending verification of one number: %w (want a verification_pending conflict)", err)
	}
	other := newVerification(phone, upgradeAt(2*time.Minute))
	other.Tenant = "upgrade-other"
	if err := vs.CreateVerification(ctx, other, nil); err != nil {
		return fmt.Errorf("another tenant's pending verification of the number: %w", err)
	}
	return nil
}

// checkUpgradedIntoDefaultTenant checks migration 0110 (tenants) on the data written before it:
// tenant default exists, and every row of every kind is in it — a listing of tenant default
// lists exactly what a listing of every tenant lists (nothing lost, nothing elsewhere), and each
// resource read back says default. API keys keep what they could do (role admin).
func checkUpgradedIntoDefaultTenant(t *testing.T, st switchboard.Store, data map[FixtureData]bool) {
	t.Helper()
	ctx := t.Context()
	const def = switchboard.DefaultTenant
	if tn, err := st.GetTenant(ctx, def); err != nil || tn.Environment != switchboard.EnvProduction {
		t.Errorf("tenant default after the upgrade: %+v, %v", tn, err)
	}
	same := func(what string, all, dflt []string, tenants []string) {
		t.Helper()
		if !reflect.DeepEqual(all, dflt) {
			t.Errorf("%s: every tenant's %v, tenant default's %v: want the same", what, all, dflt)
		}
		for i, tn := range tenants {
			if tn != def {
				t.Errorf("%s: %s is in tenant %q, want default", what, all[i], tn)
			}
		}
	}
	msgs := func(tenant string) ([]string, []string) {
		ms, _, err := st.ListMessages(ctx, switchboard.MessageFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListMessages(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, m := range ms {
			ids, tns = append(ids, m.ID), append(tns, m.Tenant)
		}
		return ids, tns
	}
	allM, tnM := msgs("")
	defM, _ := msgs(def)
	same("messages", allM, defM, tnM)
	if data[FixtureMessages] && len(allM) == 0 {
		t.Error("the upgrade lost the messages")
	}

	in := func(tenant string) ([]string, []string) {
		xs, _, err := st.ListInbound(ctx, switchboard.InboundFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListInbound(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allI, tnI := in("")
	defI, _ := in(def)
	same("inbound messages", allI, defI, tnI)

	convs := func(tenant string) ([]string, []string) {
		xs, _, err := st.ListConversations(ctx, switchboard.ConversationFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListConversations(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allC, tnC := convs("")
	defC, _ := convs(def)
	same("conversations", allC, defC, tnC)

	calls := func(tenant string) ([]string, []string) {
		xs, err := st.ListCalls(ctx, switchboard.CallFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListCalls(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allK, tnK := calls("")
	defK, _ := calls(def)
	same("calls", allK, defK, tnK)

	vers := func(tenant string) ([]string, []string) {
		xs, _, err := st.ListVerifications(ctx, switchboard.VerificationFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListVerifications(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allV, tnV := vers("")
	defV, _ := vers(def)
	same("verifications", allV, defV, tnV)

	eps := func(tenant string) ([]string, []string) {
		xs, err := st.ListEndpoints(ctx, tenant)
		if err != nil {
			t.Fatalf("ListEndpoints(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allE, tnE := eps("")
	defE, _ := eps(def)
	same("endpoints", allE, defE, tnE)

	keys := func(tenant string) ([]string, []string) {
		xs, err := st.ListAPIKeys(ctx, tenant)
		if err != nil {
			t.Fatalf("ListAPIKeys(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
			if x.Role != switchboard.RoleAdmin {
				t.Errorf("API key %s has role %q after the upgrade, want admin", x.ID, x.Role)
			}
		}
		return ids, tns
	}
	allA, tnA := keys("")
	defA, _ := keys(def)
	same("API keys", allA, defA, tnA)

	evs := func(tenant string) ([]string, []string) {
		xs, err := st.ListAppEvents(ctx, switchboard.AppEventFilter{Tenant: tenant, Limit: 1000})
		if err != nil {
			t.Fatalf("ListAppEvents(%q): %v", tenant, err)
		}
		var ids, tns []string
		for _, x := range xs {
			ids, tns = append(ids, x.ID), append(tns, x.Tenant)
		}
		return ids, tns
	}
	allEv, tnEv := evs("")
	defEv, _ := evs(def)
	same("events", allEv, defEv, tnEv)

	if data[FixtureConsent] {
		h, err := st.ConsentHistory(ctx, "+14155550100")
		if err != nil || len(h) == 0 {
			t.Errorf("consent history after the upgrade: %v, %v", h, err)
		}
		for _, c := range h {
			if c.Tenant != def {
				t.Errorf("consent record %d is in tenant %q, want default", c.ID, c.Tenant)
			}
		}
	}
	// The metadata indexes moved into tenant default: a tenant's lookup finds the old rows.
	if data[FixtureMessageMetadata] {
		ms, _, err := st.ListMessages(ctx, switchboard.MessageFilter{Tenant: def, Metadata: &switchboard.MetadataMatch{Key: "order", Value: "A-9"}})
		if err != nil || len(ms) != 1 || ms[0].ID != "msg_upgrade_meta" {
			t.Errorf("tenant default's messages with order=A-9: %v, %v", ms, err)
		}
	}
	if data[FixtureCallMetadata] {
		cs, err := st.ListCalls(ctx, switchboard.CallFilter{Tenant: def, Metadata: &switchboard.MetadataMatch{Key: "visit", Value: "88"}})
		if err != nil || len(cs) != 1 || cs[0].ID != "call_upgrade_meta" {
			t.Errorf("tenant default's calls with visit=88: %v, %v", cs, err)
		}
	}
}
