package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var messageTests = []test{
	{"CreateAndGet", testCreateAndGet},
	{"CreateMinimal", testCreateMinimal},
	{"CreateExplained", testCreateExplained},
	{"Redact", testRedact},
	{"CreateDuplicateID", testCreateDuplicateID},
	{"GetNotFound", testGetNotFound},
	{"GetByProviderSID", testGetByProviderSID},
	{"IdempotentReplay", testIdempotentReplay},
	{"IdempotencyKeyReused", testIdempotencyKeyReused},
	{"IdempotencyScopedPerAPIKey", testIdempotencyScopedPerAPIKey},
	{"IdempotencyRace", testIdempotencyRace},
	{"ConcurrentCreates", testConcurrentCreates},
	{"DuplicateID", testDuplicateID},
	{"ListNewestFirstPaged", testListNewestFirstPaged},
	{"ListFilters", testListFilters},
	{"ListByMetadata", testListByMetadata},
}

func testCreateAndGet(t *testing.T, s switchboard.Store) {
	created := at(0)
	m := &switchboard.Message{
		ID:               newID("msg"),
		Status:           switchboard.StatusScheduled,
		Channel:          switchboard.ChannelWhatsApp,
		Category:         switchboard.CategoryMarketing,
		To:               toA,
		From:             fromA,
		Pool:             "clinic",
		Body:             "Rappel : rendez-vous demain à 9 h 30 ✅",
		MediaURLs:        []string{"https://example.com/a.png", "https://example.com/b.png"},
		Segments:         2,
		Encoding:         switchboard.EncodingUCS2,
		Metadata:         map[string]string{"job": "J-42", "tenant": "acme"},
		SendAt:           ptr(at(time.Hour)),
		ValidUntil:       ptr(at(3 * time.Hour)),
		ErrorCode:        0,
		Attempts:         0,
		NextAttemptAt:    at(time.Hour),
		AttemptStartedAt: nil,
		APIKeyID:         "key_1",
		CreatedAt:        created,
		UpdatedAt:        created,
	}
	want := *m
	stored, replayed, err := s.CreateMessage(t.Context(), m, nil)
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if replayed {
		t.Fatal("CreateMessage: replayed = true for a new message")
	}
	wantMessage(t, &want, stored)

	got := get(t, s, m.ID)
	wantMessage(t, &want, got)
	if len(got.Events) != 1 {
		t.Fatalf("timeline has %d events, want the created event only", len(got.Events))
	}
	ev := got.Events[0]
	if ev.Type != switchboard.EventCreated || ev.Status != switchboard.StatusScheduled || ev.MessageID != m.ID ||
		!ev.At.Equal(created) || ev.ID == 0 {
		t.Fatalf("created event = %+v, want type created, status scheduled, at %s, an ID", ev, created)
	}
}

func testCreateMinimal(t *testing.T, s switchboard.Store) {
	m := newMessage(at(0))
	m.MediaURLs = []string{}
	m.Metadata = map[string]string{}
	want := *m
	create(t, s, m)
	got := get(t, s, m.ID)
	wantMessage(t, &want, got)
	if got.SendAt != nil || got.ValidUntil != nil || got.AttemptStartedAt != nil || got.LeaseUntil != nil {
		t.Fatalf("unset times came back set: %+v", got)
	}
	if got.ProviderSID != "" || got.LeaseOwner != "" || got.AttemptInFlight {
		t.Fatalf("unset fields came back set: %+v", got)
	}
}

func testCreateDuplicateID(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	dup := newMessage(at(time.Minute))
	dup.ID = m.ID
	dup.Body = "other"
	if _, _, err := s.CreateMessage(t.Context(), dup, nil); err == nil {
		t.Fatal("CreateMessage with an existing ID succeeded")
	}
	wantMessage(t, m, get(t, s, m.ID))
}

func testGetNotFound(t *testing.T, s switchboard.Store) {
	_, err := s.GetMessage(t.Context(), "msg_does_not_exist")
	wantErr(t, err, switchboard.ENOTFOUND, "")
	_, err = s.GetMessageByProviderSID(t.Context(), "SM00000000000000000000000000000000")
	wantErr(t, err, switchboard.ENOTFOUND, "")
}

func testGetByProviderSID(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	create(t, s, newMessage(at(time.Second)))
	setSending(t, s, m.ID, "SMaaa", at(time.Minute))
	got, err := s.GetMessageByProviderSID(t.Context(), "SMaaa")
	if err != nil {
		t.Fatalf("GetMessageByProviderSID: %v", err)
	}
	if got.ID != m.ID || got.ProviderSID != "SMaaa" || got.Status != switchboard.StatusSending {
		t.Fatalf("GetMessageByProviderSID = %s %s %s, want %s SMaaa sending", got.ID, got.ProviderSID, got.Status, m.ID)
	}
}

func idem(apiKey, key, hash string) *switchboard.Idempotency {
	return &switchboard.Idempotency{APIKeyID: apiKey, Key: key, RequestHash: hash}
}

func testIdempotentReplay(t *testing.T, s switchboard.Store) {
	first := newMessage(at(0))
	first.APIKeyID = "key_1"
	want := *first
	stored, replayed, err := s.CreateMessage(t.Context(), first, idem("key_1", "order-17", "h1"))
	if err != nil || replayed {
		t.Fatalf("first CreateMessage: replayed=%v err=%v", replayed, err)
	}
	wantMessage(t, &want, stored)

	retry := newMessage(at(time.Second)) // the API gives every request a new ID
	retry.APIKeyID = "key_1"
	stored, replayed, err = s.CreateMessage(t.Context(), retry, idem("key_1", "order-17", "h1"))
	if err != nil {
		t.Fatalf("replayed CreateMessage: %v", err)
	}
	if !replayed {
		t.Fatal("replayed CreateMessage: replayed = false")
	}
	wantMessage(t, &want, stored)
	_, err = s.GetMessage(t.Context(), retry.ID)
	wantErr(t, err, switchboard.ENOTFOUND, "")
	if n := len(listAll(t, s, switchboard.MessageFilter{})); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	// The replay returns the message as it is now.
	setSending(t, s, first.ID, "SMreplay", at(time.Minute))
	stored, replayed, err = s.CreateMessage(t.Context(), newMessage(at(2*time.Minute)), idem("key_1", "order-17", "h1"))
	if err != nil || !replayed {
		t.Fatalf("third CreateMessage: replayed=%v err=%v", replayed, err)
	}
	if stored.ID != first.ID || stored.Status != switchboard.StatusSending || stored.ProviderSID != "SMreplay" {
		t.Fatalf("replay = %s %s %s, want %s sending SMreplay", stored.ID, stored.Status, stored.ProviderSID, first.ID)
	}
}

func testIdempotencyKeyReused(t *testing.T, s switchboard.Store) {
	first := create(t, s, newMessage(at(0)))
	_ = first
	m := newMessage(at(time.Second))
	if _, _, err := s.CreateMessage(t.Context(), m, idem("key_1", "k", "h1")); err != nil {
		t.Fatal(err)
	}
	other := newMessage(at(2 * time.Second))
	other.Body = "a different request"
	_, _, err := s.CreateMessage(t.Context(), other, idem("key_1", "k", "h2"))
	wantErr(t, err, switchboard.EUNPROCESSABLE, "idempotency_key_reused")
	_, err = s.GetMessage(t.Context(), other.ID)
	wantErr(t, err, switchboard.ENOTFOUND, "")
	if n := len(listAll(t, s, switchboard.MessageFilter{})); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
}

func testIdempotencyScopedPerAPIKey(t *testing.T, s switchboard.Store) {
	a := newMessage(at(0))
	b := newMessage(at(time.Second))
	if _, replayed, err := s.CreateMessage(t.Context(), a, idem("key_1", "same", "h1")); err != nil || replayed {
		t.Fatalf("key_1: replayed=%v err=%v", replayed, err)
	}
	stored, replayed, err := s.CreateMessage(t.Context(), b, idem("key_2", "same", "h2"))
	if err != nil || replayed {
		t.Fatalf("key_2: replayed=%v err=%v", replayed, err)
	}
	if stored.ID != b.ID {
		t.Fatalf("key_2 got message %s, want its own %s", stored.ID, b.ID)
	}
}

func testIdempotencyRace(t *testing.T, s switchboard.Store) {
	const n = 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		created  int
		storedID = map[string]int{}
		errs     []error
	)
	start := make(chan struct{})
	for i := range n {
		m := newMessage(at(time.Duration(i) * time.Millisecond))
		wg.Go(func() {
			<-start
			stored, replayed, err := s.CreateMessage(t.Context(), m, idem("key_1", "race", "h"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if !replayed {
				created++
			}
			storedID[stored.ID]++
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d racing requests failed, first: %v", len(errs), n, errs[0])
	}
	if created != 1 || len(storedID) != 1 {
		t.Fatalf("%d racing requests created %d messages and returned %d distinct IDs, want 1 and 1", n, created, len(storedID))
	}
	if got := len(listAll(t, s, switchboard.MessageFilter{})); got != 1 {
		t.Fatalf("%d messages stored, want 1", got)
	}
}

// testConcurrentCreates mixes successful and refused creates: a refused request must not take
// a concurrent one down with it, nor leave anything behind.
func testConcurrentCreates(t *testing.T, s switchboard.Store) {
	first := newMessage(at(0))
	if _, _, err := s.CreateMessage(t.Context(), first, idem("key_1", "taken", "h1")); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		okIDs            = map[string]bool{}
		refused, failed  int
		unexpectedErrors []error
	)
	start := make(chan struct{})
	for i := range n {
		m := newMessage(at(time.Second + time.Duration(i)*time.Millisecond))
		key := idem("key_1", newID("k"), "h")
		if i%2 == 1 {
			key = idem("key_1", "taken", "different")
		}
		wg.Go(func() {
			<-start
			stored, _, err := s.CreateMessage(t.Context(), m, key)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				okIDs[stored.ID] = true
			case switchboard.ErrorCodeOf(err) == "idempotency_key_reused":
				refused++
			default:
				failed++
				unexpectedErrors = append(unexpectedErrors, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d creates failed, first: %v", failed, unexpectedErrors[0])
	}
	if len(okIDs) != n/2 || refused != n/2 {
		t.Fatalf("%d created, %d refused; want %d and %d", len(okIDs), refused, n/2, n/2)
	}
	all := listAll(t, s, switchboard.MessageFilter{})
	if len(all) != n/2+1 {
		t.Fatalf("%d messages stored, want %d", len(all), n/2+1)
	}
	for _, m := range all {
		if m.ID != first.ID && !okIDs[m.ID] {
			t.Fatalf("message %s stored by a refused request", m.ID)
		}
		if got := get(t, s, m.ID); len(got.Events) != 1 {
			t.Fatalf("message %s has %d events, want 1", m.ID, len(got.Events))
		}
	}
}

func testListNewestFirstPaged(t *testing.T, s switchboard.Store) {
	var msgs []*switchboard.Message
	for i := range 23 {
		msgs = append(msgs, createAt(t, s, at(time.Duration(i)*time.Second), nil))
	}
	for _, limit := range []int{1, 5, 7, 23, 100} {
		got := listAll(t, s, switchboard.MessageFilter{Limit: limit})
		wantEqual(t, "listing", reversed(msgs...), ids(got))
	}
	// A page holds what was asked for; the last full page says there is no more.
	page, next, err := s.ListMessages(t.Context(), switchboard.MessageFilter{Limit: 23})
	if err != nil || len(page) != 23 || next != "" {
		t.Fatalf("ListMessages(limit 23 of 23) = %d messages, next %q, err %v; want 23, \"\"", len(page), next, err)
	}
	page, next, err = s.ListMessages(t.Context(), switchboard.MessageFilter{Limit: 10})
	if err != nil || len(page) != 10 || next != page[9].ID {
		t.Fatalf("ListMessages(limit 10) = %d messages, next %q, err %v; want 10 and the last ID", len(page), next, err)
	}
	wantMessage(t, msgs[22], page[0])
	// The cursor stays valid when newer messages arrive.
	newer := createAt(t, s, at(time.Hour), nil)
	rest := listAll(t, s, switchboard.MessageFilter{Limit: 10, Cursor: next})
	wantEqual(t, "listing after the cursor", reversed(msgs[:13]...), ids(rest))
	wantEqual(t, "newest", newer.ID, listAll(t, s, switchboard.MessageFilter{Limit: 1})[0].ID)
}

func testListFilters(t *testing.T, s switchboard.Store) {
	mk := func(i int, edit func(m *switchboard.Message)) *switchboard.Message {
		return createAt(t, s, at(time.Duration(i)*time.Minute), edit)
	}
	m0 := mk(0, nil)
	m1 := mk(1, func(m *switchboard.Message) { m.To = toB })
	m2 := mk(2, func(m *switchboard.Message) { m.From = fromB })
	m3 := mk(3, func(m *switchboard.Message) { m.To, m.From = toB, fromB; m.Status = switchboard.StatusScheduled })
	m4 := mk(4, nil)
	m5 := mk(5, func(m *switchboard.Message) { m.To = toB })
	setSending(t, s, m4.ID, "SM4", at(10*time.Minute))
	update(t, s, switchboard.MessageUpdate{ID: m5.ID, Status: switchboard.StatusCanceled, At: at(10 * time.Minute)})

	for _, tc := range []struct {
		name string
		f    switchboard.MessageFilter
		want []*switchboard.Message
	}{
		{"all", switchboard.MessageFilter{}, []*switchboard.Message{m0, m1, m2, m3, m4, m5}},
		{"queued", switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusQueued}}, []*switchboard.Message{m0, m1, m2}},
		{"scheduled or sending", switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusScheduled, switchboard.StatusSending}}, []*switchboard.Message{m3, m4}},
		{"delivered", switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusDelivered}}, nil},
		{"to", switchboard.MessageFilter{To: toB}, []*switchboard.Message{m1, m3, m5}},
		{"from", switchboard.MessageFilter{From: fromB}, []*switchboard.Message{m2, m3}},
		{"to and from", switchboard.MessageFilter{To: toB, From: fromB}, []*switchboard.Message{m3}},
		{"to and status", switchboard.MessageFilter{To: toB, Statuses: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusCanceled}}, []*switchboard.Message{m1, m5}},
		{"created after (inclusive)", switchboard.MessageFilter{CreatedAfter: ptr(at(2 * time.Minute))}, []*switchboard.Message{m2, m3, m4, m5}},
		{"created before (exclusive)", switchboard.MessageFilter{CreatedBefore: ptr(at(2 * time.Minute))}, []*switchboard.Message{m0, m1}},
		{"created range", switchboard.MessageFilter{CreatedAfter: ptr(at(time.Minute)), CreatedBefore: ptr(at(4 * time.Minute))}, []*switchboard.Message{m1, m2, m3}},
		{"range and to, paged", switchboard.MessageFilter{To: toB, CreatedAfter: ptr(at(time.Minute)), Limit: 1}, []*switchboard.Message{m1, m3, m5}},
		{"nothing", switchboard.MessageFilter{To: "+15559999999"}, nil},
	} {
		got := listAll(t, s, tc.f)
		wantEqual(t, tc.name, reversed(tc.want...), ids(got), cmpEmpty)
	}
	// Listed messages carry their current fields.
	got := listAll(t, s, switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusSending}})
	if len(got) != 1 || got[0].ProviderSID != "SM4" || !got[0].UpdatedAt.Equal(at(10*time.Minute)) {
		t.Fatalf("listed sending message = %+v, want SM4 updated at +10m", got)
	}
}

// testCreateExplained: the caller may explain the acceptance (actor, detail) in the created event.
func testCreateExplained(t *testing.T, s switchboard.Store) {
	m := newMessage(at(0))
	m.Status = switchboard.StatusScheduled
	m.NextAttemptAt = at(8 * time.Hour)
	m.Events = []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "api:billing", Detail: "held by marketing quiet hours"}}
	m.Timezone, m.Template, m.TemplateVersion = "America/Chicago", "appointment_reminder", 3
	m.BodySHA256, m.BodyLength = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 4
	create(t, s, m)
	got := get(t, s, m.ID)
	if got.Timezone != "America/Chicago" || got.Template != "appointment_reminder" || got.TemplateVersion != 3 ||
		got.BodySHA256 != m.BodySHA256 || got.BodyLength != 4 || got.RedactedAt != nil {
		t.Fatalf("policy fields not kept: %+v", got)
	}
	if len(got.Events) != 1 || got.Events[0].Actor != "api:billing" || got.Events[0].Detail != "held by marketing quiet hours" ||
		got.Events[0].Status != switchboard.StatusScheduled || got.Events[0].Type != switchboard.EventCreated {
		t.Fatalf("created event = %+v", got.Events)
	}
}

// testRedact: retention removes bodies and raw payloads of finished messages older than the
// cutoff, keeps what describes them, and leaves unfinished and newer messages alone.
func testRedact(t *testing.T, s switchboard.Store) {
	old := createAt(t, s, at(-48*time.Hour), func(m *switchboard.Message) {
		m.Channel = switchboard.ChannelWhatsApp
		m.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: `{"1":"493817"}`}
	})
	update(t, s, switchboard.MessageUpdate{ID: old.ID, Status: switchboard.StatusDelivered, ProviderSID: ptr("SMold"), At: at(-47 * time.Hour),
		Events: []*switchboard.Event{{Type: switchboard.EventCallback, Actor: "provider", Payload: []byte(`{"Body":"secret"}`)}}})
	queued := create(t, s, newMessage(at(-48*time.Hour))) // not finished: still needs its body
	fresh := create(t, s, newMessage(at(-time.Hour)))
	update(t, s, switchboard.MessageUpdate{ID: fresh.ID, Status: switchboard.StatusDelivered, At: at(0)})
	if _, err := s.CreateInbound(t.Context(), &switchboard.InboundMessage{ID: newID("in"), ProviderSID: "SMin-old", Channel: switchboard.ChannelSMS,
		From: "+14155550100", To: "+15005550006", Body: "my card is 4111", Payload: []byte(`{"Body":"my card is 4111"}`), ReceivedAt: at(-30 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateInbound(t.Context(), &switchboard.InboundMessage{ID: newID("in"), ProviderSID: "SMin-new", Channel: switchboard.ChannelSMS,
		From: "+14155550100", To: "+15005550006", Body: "new", ReceivedAt: at(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Redact(t.Context(), at(-24*time.Hour), at(0), 100)
	if err != nil || n != 1 {
		t.Fatalf("Redact = %d, %v; want 1", n, err)
	}
	got := get(t, s, old.ID)
	// The content template's variables are the body's content: they go too; the template stays.
	if got.WhatsApp == nil || got.WhatsApp.ContentVariables != "" || got.WhatsApp.ContentSID != "HX0123456789abcdef0123456789abcdef" {
		t.Fatalf("WhatsApp options after redaction: %+v", got.WhatsApp)
	}
	if got.Body != "" || got.RedactedAt == nil || !got.RedactedAt.Equal(at(0)) || got.Segments != old.Segments || got.BodySHA256 != old.BodySHA256 || got.BodyLength != old.BodyLength {
		t.Fatalf("redacted message = %+v", got)
	}
	for _, e := range got.Events {
		if len(e.Payload) != 0 {
			t.Fatalf("event payload kept after redaction: %s", e.Payload)
		}
	}
	if g := get(t, s, queued.ID); g.Body == "" || g.RedactedAt != nil {
		t.Fatal("an unfinished message was redacted")
	}
	if g := get(t, s, fresh.ID); g.Body == "" || g.RedactedAt != nil {
		t.Fatal("a message newer than the cutoff was redacted")
	}
	ins, _, err := s.ListInbound(t.Context(), switchboard.InboundFilter{Limit: 10})
	if err != nil || len(ins) != 2 {
		t.Fatal(err)
	}
	for _, in := range ins {
		switch in.ProviderSID {
		case "SMin-old":
			if in.Body != "" || len(in.Payload) != 0 {
				t.Fatalf("old inbound kept %q %s", in.Body, in.Payload)
			}
		case "SMin-new":
			if in.Body != "new" {
				t.Fatal("new inbound redacted")
			}
		}
	}
	if n, err := s.Redact(t.Context(), at(-24*time.Hour), at(time.Minute), 100); err != nil || n != 0 {
		t.Fatalf("second Redact = %d, %v; want 0 (nothing left)", n, err)
	}
}

// testDuplicateID: a second message with a taken ID is a conflict that names the ID, and changes
// nothing.
func testDuplicateID(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	again := newMessage(at(time.Second))
	again.ID = m.ID
	_, _, err := s.CreateMessage(t.Context(), again, nil)
	wantErr(t, err, switchboard.ECONFLICT, "message_exists")
	if n := len(listAll(t, s, switchboard.MessageFilter{})); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// testListByMetadata: a listing finds the messages with one metadata key and value, exactly,
// newest first and paged, combined with the other filters; an idempotent replay or a refused
// create indexes nothing, and redaction keeps the metadata findable.
func testListByMetadata(t *testing.T, s switchboard.Store) {
	mk := func(i int, meta map[string]string, edit func(m *switchboard.Message)) *switchboard.Message {
		return createAt(t, s, at(time.Duration(i)*time.Minute), func(m *switchboard.Message) {
			m.Metadata = meta
			if edit != nil {
				edit(m)
			}
		})
	}
	m0 := mk(0, map[string]string{"job_id": "1042", "tech": "ana"}, nil)
	m1 := mk(1, map[string]string{"job_id": "1043", "tech": "ana"}, nil)
	m2 := mk(2, map[string]string{"job_id": "1042"}, func(m *switchboard.Message) { m.To = toB })
	m3 := mk(3, nil, nil)
	m4 := mk(4, map[string]string{"job_id": "1042", "note": ""}, nil)
	m5 := mk(5, map[string]string{"Job_ID": "1042", "job_id ": "1042", "job": "id=1042"}, nil)
	m6 := mk(6, map[string]string{"job_id": "10420"}, nil) // a longer value is another value
	// An idempotent create indexes its metadata once; its replay, and a refused create, not at all.
	m7 := newMessage(at(7 * time.Minute))
	m7.Metadata = map[string]string{"job_id": "1042", "k": "v"}
	if _, replayed, err := s.CreateMessage(t.Context(), m7, idem("key_1", "meta-7", "h7")); err != nil || replayed {
		t.Fatalf("CreateMessage(%s): replayed %v, err %v", m7.ID, replayed, err)
	}
	retry := newMessage(at(8 * time.Minute))
	retry.Metadata = map[string]string{"job_id": "1042", "k": "v"}
	if got, replayed, err := s.CreateMessage(t.Context(), retry, idem("key_1", "meta-7", "h7")); err != nil || !replayed || got.ID != m7.ID {
		t.Fatalf("replay of %s = %v, replayed %v, err %v", m7.ID, got, replayed, err)
	}
	dup := *m3
	dup.Metadata = map[string]string{"job_id": "1042", "k": "v"}
	if _, _, err := s.CreateMessage(t.Context(), &dup, nil); switchboard.ErrorKindOf(err) != switchboard.ECONFLICT {
		t.Fatalf("CreateMessage(existing %s) = %v, want ECONFLICT", m3.ID, err)
	}
	setSending(t, s, m4.ID, "SM4meta", at(10*time.Minute))
	q := func(k, v string) *switchboard.MetadataMatch { return &switchboard.MetadataMatch{Key: k, Value: v} }

	for _, tc := range []struct {
		name string
		f    switchboard.MessageFilter
		want []*switchboard.Message
	}{
		{"pair", switchboard.MessageFilter{Metadata: q("job_id", "1042")}, []*switchboard.Message{m0, m2, m4, m7}},
		{"pair, paged", switchboard.MessageFilter{Metadata: q("job_id", "1042"), Limit: 1}, []*switchboard.Message{m0, m2, m4, m7}},
		{"pair, page of 3", switchboard.MessageFilter{Metadata: q("job_id", "1042"), Limit: 3}, []*switchboard.Message{m0, m2, m4, m7}},
		{"other key", switchboard.MessageFilter{Metadata: q("tech", "ana")}, []*switchboard.Message{m0, m1}},
		{"empty value", switchboard.MessageFilter{Metadata: q("note", "")}, []*switchboard.Message{m4}},
		{"key is case-sensitive", switchboard.MessageFilter{Metadata: q("Job_ID", "1042")}, []*switchboard.Message{m5}},
		{"value is exact", switchboard.MessageFilter{Metadata: q("job_id", "104")}, nil},
		{"longer value", switchboard.MessageFilter{Metadata: q("job_id", "10420")}, []*switchboard.Message{m6}},
		{"no such key", switchboard.MessageFilter{Metadata: q("order", "1042")}, nil},
		{"and to", switchboard.MessageFilter{Metadata: q("job_id", "1042"), To: toB}, []*switchboard.Message{m2}},
		{"and status", switchboard.MessageFilter{Metadata: q("job_id", "1042"), Statuses: []switchboard.Status{switchboard.StatusSending}}, []*switchboard.Message{m4}},
		{"and created range", switchboard.MessageFilter{Metadata: q("job_id", "1042"), CreatedAfter: ptr(at(time.Minute)), CreatedBefore: ptr(at(5 * time.Minute))}, []*switchboard.Message{m2, m4}},
		{"refused create added nothing", switchboard.MessageFilter{Metadata: q("k", "v")}, []*switchboard.Message{m7}},
	} {
		got := listAll(t, s, tc.f)
		wantEqual(t, tc.name, reversed(tc.want...), ids(got), cmpEmpty)
	}
	// Listed messages carry their whole metadata and current fields.
	got := listAll(t, s, switchboard.MessageFilter{Metadata: q("note", "")})
	if len(got) != 1 || got[0].ProviderSID != "SM4meta" || got[0].Metadata["job_id"] != "1042" || len(got[0].Metadata) != 2 {
		t.Fatalf("listed message = %+v, want m4 with its metadata, sending", got)
	}
	// A cursor continues the listing by metadata.
	page, next, err := s.ListMessages(t.Context(), switchboard.MessageFilter{Metadata: q("job_id", "1042"), Limit: 2})
	if err != nil || len(page) != 2 || next != m4.ID {
		t.Fatalf("first page = %v, next %q, err %v; want m7, m4 and the cursor %s", ids(page), next, err, m4.ID)
	}
	// The dashboard's search takes the same filter, with its own criteria.
	for _, tc := range []struct {
		name string
		q    switchboard.MessageSearch
		want []*switchboard.Message
	}{
		{"search pair", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Metadata: q("job_id", "1042")}}, []*switchboard.Message{m0, m2, m4, m7}},
		{"search pair, paged", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Metadata: q("job_id", "1042"), Limit: 3, Cursor: m7.ID}}, []*switchboard.Message{m0, m2, m4}},
		{"search pair and suffix", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Metadata: q("job_id", "1042")}, ToSuffix: toB[len(toB)-4:]}, []*switchboard.Message{m2}},
		{"search no pair", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Metadata: q("job_id", "9")}}, nil},
	} {
		got, next, err := s.SearchMessages(t.Context(), tc.q)
		if err != nil || next != "" {
			t.Fatalf("%s: SearchMessages = next %q, err %v", tc.name, next, err)
		}
		wantEqual(t, tc.name, reversed(tc.want...), ids(got), cmpEmpty)
	}
	// Redaction keeps metadata: a redacted message is still found by it.
	update(t, s, switchboard.MessageUpdate{ID: m0.ID, Status: switchboard.StatusCanceled, At: at(11 * time.Minute)})
	if n, err := s.Redact(t.Context(), at(time.Hour), at(time.Hour), 100); err != nil || n == 0 {
		t.Fatalf("Redact = %d, %v; want some redacted", n, err)
	}
	got = listAll(t, s, switchboard.MessageFilter{Metadata: q("tech", "ana")})
	wantEqual(t, "after redaction", reversed(m0, m1), ids(got), cmpEmpty)
	if got[1].RedactedAt == nil || got[1].Metadata["job_id"] != "1042" {
		t.Fatalf("redacted message = %+v, want redacted with its metadata", got[1])
	}
}
