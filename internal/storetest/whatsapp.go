package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var whatsAppTests = []test{
	{"OptionsRoundTrip", testWhatsAppOptionsRoundTrip},
	{"FallbackCandidates", testFallbackCandidates},
	{"SettleFallbackOnce", testSettleFallbackOnce},
	{"FindConversation", testFindConversation},
	{"WindowClosingOncePerWindow", testWindowClosingOnce},
	{"WindowClosingConcurrent", testWindowClosingConcurrent},
	{"RecordAppEvent", testRecordAppEvent},
}

func waMessage(created time.Time, o *switchboard.WhatsAppOptions) func(m *switchboard.Message) {
	return func(m *switchboard.Message) {
		m.Channel = switchboard.ChannelWhatsApp
		m.WhatsApp = o
		m.CreatedAt, m.UpdatedAt, m.NextAttemptAt = created, created, created
	}
}

func testWhatsAppOptionsRoundTrip(t *testing.T, s switchboard.Store) {
	o := &switchboard.WhatsAppOptions{ContentSID: "HXb5b62575e6e4ff6129ad7c8efe1f983e", ContentVariables: `{"1":"Ann"}`,
		Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 600}
	m := createAt(t, s, at(0), waMessage(at(0), o))
	wantEqual(t, "created", o, m.WhatsApp)
	wantEqual(t, "read back", o, get(t, s, m.ID).WhatsApp)
	plain := createAt(t, s, at(time.Second), nil)
	if got := get(t, s, plain.ID).WhatsApp; got != nil {
		t.Fatalf("a message without WhatsApp options reads back %+v", got)
	}
	// Options survive the claim path too (the dispatcher reads them from claimed messages).
	msgs := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "n", Now: at(time.Hour), LeaseUntil: at(2 * time.Hour), Limit: 10})
	for _, c := range msgs {
		if c.ID == m.ID {
			wantEqual(t, "claimed", o, c.WhatsApp)
		}
	}
}

func candidateIDs(t *testing.T, s switchboard.Store, now time.Time) map[string]*time.Time {
	t.Helper()
	cs, err := s.FallbackCandidates(t.Context(), now, 100)
	if err != nil {
		t.Fatalf("FallbackCandidates: %v", err)
	}
	out := map[string]*time.Time{}
	for _, c := range cs {
		out[c.Message.ID] = c.Due
	}
	return out
}

func testFallbackCandidates(t *testing.T, s switchboard.Store) {
	sms := &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS}
	timed := &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 60}
	failing := createAt(t, s, at(0), waMessage(at(0), sms))
	waiting := createAt(t, s, at(time.Second), waMessage(at(time.Second), timed))
	none := createAt(t, s, at(2*time.Second), waMessage(at(2*time.Second), &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackNone}))
	smsChannel := createAt(t, s, at(3*time.Second), func(m *switchboard.Message) { m.WhatsApp = sms }) // not WhatsApp: no fallback

	if got := candidateIDs(t, s, at(10*time.Second)); len(got) != 0 {
		t.Fatalf("candidates before anything happened: %v", got)
	}
	update(t, s, switchboard.MessageUpdate{ID: failing.ID, Status: switchboard.StatusFailed, ErrorCode: ptr(63016), At: at(5 * time.Second)})
	update(t, s, switchboard.MessageUpdate{ID: none.ID, Status: switchboard.StatusFailed, At: at(5 * time.Second)})
	update(t, s, switchboard.MessageUpdate{ID: smsChannel.ID, Status: switchboard.StatusFailed, At: at(5 * time.Second)})
	got := candidateIDs(t, s, at(10*time.Second))
	if len(got) != 1 || got[failing.ID] != nil {
		t.Fatalf("candidates after a failure = %v, want only %s (no due time)", got, failing.ID)
	}
	// Past its fallback time, the undelivered one is a candidate too, with its due time.
	got = candidateIDs(t, s, at(61*time.Second))
	due, ok := got[waiting.ID]
	if len(got) != 2 || !ok || due == nil || !due.Equal(at(61*time.Second)) {
		t.Fatalf("candidates after the fallback time = %v, want %s due at %v too", got, waiting.ID, at(61*time.Second))
	}
}

func testSettleFallbackOnce(t *testing.T, s switchboard.Store) {
	m := createAt(t, s, at(0), waMessage(at(0), &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS}))
	update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusUndelivered, At: at(time.Second)})
	var wg sync.WaitGroup
	results := make(chan bool, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.SettleFallback(t.Context(), m.ID, "msg_leg", &switchboard.Event{
				Type: switchboard.EventNote, Actor: "whatsapp", Detail: "SMS leg msg_leg created", At: at(2 * time.Second)})
			if err != nil {
				t.Errorf("SettleFallback: %v", err)
			}
			results <- ok
		}()
	}
	wg.Wait()
	close(results)
	n := 0
	for ok := range results {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 4 concurrent SettleFallback calls settled, want 1", n)
	}
	got := get(t, s, m.ID)
	if got.WhatsApp == nil || got.WhatsApp.FallbackMessageID != "msg_leg" || got.WhatsApp.Fallback != switchboard.FallbackSMS {
		t.Fatalf("after settling, whatsapp = %+v", got.WhatsApp)
	}
	notes := 0
	for _, e := range got.Events {
		if e.Type == switchboard.EventNote {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("timeline has %d notes, want 1", notes)
	}
	if c := candidateIDs(t, s, at(time.Hour)); len(c) != 0 {
		t.Fatalf("a settled message is still a candidate: %v", c)
	}
	if ok, err := s.SettleFallback(t.Context(), "msg_missing", "", nil); ok || err != nil {
		t.Fatalf("SettleFallback(unknown) = %v, %v", ok, err)
	}
}

func testFindConversation(t *testing.T, s switchboard.Store) {
	if _, err := s.FindConversation(t.Context(), switchboard.ChannelWhatsApp, fromA, toA); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Fatalf("FindConversation before any message: %v, want ENOTFOUND", err)
	}
	in := inbound(toA, fromA, "SMwa1", at(time.Second))
	in.Channel = switchboard.ChannelWhatsApp
	createInbound(t, s, in)
	c, err := s.FindConversation(t.Context(), switchboard.ChannelWhatsApp, fromA, toA)
	if err != nil || c.LastInboundAt == nil || !c.LastInboundAt.Equal(at(time.Second)) || c.Channel != switchboard.ChannelWhatsApp {
		t.Fatalf("FindConversation = %+v, %v", c, err)
	}
	if _, err := s.FindConversation(t.Context(), switchboard.ChannelSMS, fromA, toA); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Fatalf("the SMS thread of the pair: %v, want ENOTFOUND", err)
	}
}

func waInbound(t *testing.T, s switchboard.Store, from, sid string, received time.Time) {
	t.Helper()
	in := inbound(from, fromA, sid, received)
	in.Channel = switchboard.ChannelWhatsApp
	createInbound(t, s, in)
}

func closingEvents(t *testing.T, s switchboard.Store) []switchboard.WindowClosingData {
	t.Helper()
	var out []switchboard.WindowClosingData
	for _, e := range events(t, s, switchboard.AppConversationWindowClosing) {
		var d switchboard.WindowClosingData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func testWindowClosingOnce(t *testing.T, s switchboard.Store) {
	lead := time.Hour
	waInbound(t, s, toA, "SMw1", at(0))
	// An SMS conversation never has a window.
	createInbound(t, s, inbound(toB, fromA, "SMs1", at(0)))
	claimW := func(now time.Time) []*switchboard.Conversation {
		t.Helper()
		cs, err := s.ClaimWindowClosing(t.Context(), now, lead, 100)
		if err != nil {
			t.Fatalf("ClaimWindowClosing: %v", err)
		}
		return cs
	}
	if cs := claimW(at(22 * time.Hour)); len(cs) != 0 {
		t.Fatalf("claimed %d two hours before the window closes", len(cs))
	}
	cs := claimW(at(23*time.Hour + time.Minute))
	if len(cs) != 1 || cs[0].TheirNumber != toA {
		t.Fatalf("claimed %+v inside the lead time, want the WhatsApp conversation", cs)
	}
	if cs := claimW(at(23*time.Hour + 2*time.Minute)); len(cs) != 0 {
		t.Fatalf("the same window was claimed again: %+v", cs)
	}
	evs := closingEvents(t, s)
	if len(evs) != 1 || !evs[0].ClosesAt.Equal(at(24*time.Hour)) || evs[0].TheirNumber != toA {
		t.Fatalf("events = %+v, want one closing at %v", evs, at(24*time.Hour))
	}
	// A closed window is never announced late.
	waInbound(t, s, toB, "SMw2", at(time.Minute))
	if cs := claimW(at(25 * time.Hour)); len(cs) != 0 {
		t.Fatalf("claimed a window that already closed: %+v", cs)
	}
	// A new inbound message opens a new window, announced once in its turn.
	waInbound(t, s, toA, "SMw3", at(30*time.Hour))
	if cs := claimW(at(53*time.Hour + time.Minute)); len(cs) != 1 {
		t.Fatalf("the new window: claimed %d, want 1", len(cs))
	}
	if n := len(closingEvents(t, s)); n != 2 {
		t.Fatalf("%d window_closing events, want 2", n)
	}
}

func testWindowClosingConcurrent(t *testing.T, s switchboard.Store) {
	for i := range 5 {
		waInbound(t, s, "+1555123010"+string(rune('0'+i)), "SMc"+string(rune('0'+i)), at(time.Duration(i)*time.Second))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := s.ClaimWindowClosing(t.Context(), at(23*time.Hour+30*time.Minute), time.Hour, 2)
			if err != nil {
				t.Errorf("ClaimWindowClosing: %v", err)
			}
			mu.Lock()
			total += len(cs)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for {
		cs, err := s.ClaimWindowClosing(t.Context(), at(23*time.Hour+30*time.Minute), time.Hour, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		total += len(cs)
	}
	if total != 5 || len(closingEvents(t, s)) != 5 {
		t.Fatalf("claimed %d windows with %d events, want 5 and 5", total, len(closingEvents(t, s)))
	}
}

func testRecordAppEvent(t *testing.T, s switchboard.Store) {
	ev, err := switchboard.NewAppEvent(switchboard.AppMediaStored, at(0), switchboard.MediaData{MediaID: "med_1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAppEvent(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	evs := events(t, s, switchboard.AppMediaStored)
	if len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events = %+v", evs)
	}
}
