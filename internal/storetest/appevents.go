package storetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard"
)

var appEventTests = []test{
	{"StatusMovesWriteEvents", testEventsStatusMoves},
	{"PendingCallbacksEachMove", testEventsPendingCallbacks},
	{"AdoptingCallbackWritesEvents", testEventsAdoption},
	{"RefusedChangeWritesNone", testEventsRefusedChange},
	{"InboundAndConsent", testEventsInboundConsent},
	{"ListFilters", testEventsList},
	{"RedactReceived", testEventsRedact},
}

var endpointTests = []test{
	{"CRUD", testEndpointCRUD},
	{"RotateSecret", testEndpointRotate},
	{"ReplaceSecrets", testReplaceEndpointSecrets},
	{"SyncFromConfig", testEndpointSync},
	{"FanOutByPattern", testFanOut},
	{"FanOutConcurrentOnce", testFanOutConcurrent},
	{"ClaimLeases", testDeliveryClaim},
	{"RetryDeadLetterReplay", testDeliveryRetryDead},
	{"DisableAfterFailingTooLong", testDeliveryDisable},
	{"ListPaged", testDeliveryList},
	{"DeleteEndpointDropsDeliveries", testEndpointDelete},
	{"PruneFinishedEvents", testPruneEvents},
}

// statusMove is a message.status_changed event reduced to what the tests check.
type statusMove struct {
	MessageID, Old, New, SID string
	Code                     int
}

// events lists the whole event log (at most 1000 events), failing the test on error.
func events(t *testing.T, s switchboard.Store, types ...switchboard.AppEventType) []*switchboard.AppEvent {
	t.Helper()
	evs, err := s.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: types, Limit: 1000})
	if err != nil {
		t.Fatalf("ListAppEvents: %v", err)
	}
	for i, e := range evs {
		if !strings.HasPrefix(e.ID, "evt_") || e.Version != switchboard.AppEventVersion || e.Seq == 0 || !json.Valid(e.Data) {
			t.Fatalf("event %d malformed: %+v", i, e)
		}
		if i > 0 && e.Seq <= evs[i-1].Seq {
			t.Fatalf("events not in log order: seq %d after %d", e.Seq, evs[i-1].Seq)
		}
	}
	return evs
}

// moves decodes the message.status_changed events of the log.
func moves(t *testing.T, s switchboard.Store) []statusMove {
	t.Helper()
	var out []statusMove
	for _, e := range events(t, s, switchboard.AppMessageStatusChanged) {
		var d switchboard.MessageStatusChangedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %s: %v", e.ID, err)
		}
		out = append(out, statusMove{d.MessageID, string(d.OldStatus), string(d.Status), d.ProviderSID, d.ErrorCode})
	}
	return out
}

func testEventsStatusMoves(t *testing.T, s switchboard.Store) {
	m := createAt(t, s, at(0), func(m *switchboard.Message) { m.Metadata = map[string]string{"job": "4711"} })
	if got := events(t, s); len(got) != 0 {
		t.Fatalf("creating a message wrote %d events, want none (creation is not a status move)", len(got))
	}
	setSending(t, s, m.ID, "SMev1", at(time.Second))
	// A change without a status move writes no event.
	update(t, s, switchboard.MessageUpdate{ID: m.ID, AttemptInFlight: ptr(false), At: at(2 * time.Second)})
	ingest(t, s, callback("SMev1", switchboard.StatusSent, at(3*time.Second)))
	ingest(t, s, callback("SMev1", switchboard.StatusSent, at(4*time.Second))) // duplicate
	cb := callback("SMev1", switchboard.StatusUndelivered, at(5*time.Second))
	cb.ErrorCode, cb.ErrorMessage = 30003, "Unreachable destination handset"
	ingest(t, s, cb)
	ingest(t, s, callback("SMev1", switchboard.StatusSent, at(6*time.Second))) // late, ignored
	want := []statusMove{
		{m.ID, "queued", "sending", "SMev1", 0},
		{m.ID, "sending", "sent", "SMev1", 0},
		{m.ID, "sent", "undelivered", "SMev1", 30003},
	}
	wantEqual(t, "status moves", want, moves(t, s))
	evs := events(t, s)
	for i, when := range []time.Time{at(time.Second), at(3 * time.Second), at(5 * time.Second)} {
		if !evs[i].At.Equal(when) || evs[i].Type != switchboard.AppMessageStatusChanged {
			t.Errorf("event %d: %s at %s, want message.status_changed at %s", i, evs[i].Type, evs[i].At, when)
		}
	}
	var d switchboard.MessageStatusChangedData
	if err := json.Unmarshal(evs[2].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.To != toA || d.From != fromA || d.Metadata["job"] != "4711" || d.ErrorMessage == "" || d.Channel != switchboard.ChannelSMS {
		t.Fatalf("payload %+v lacks the message's fields", d)
	}
	// delivered → read is the one move a terminal status makes.
	m2 := createAt(t, s, at(0), nil)
	setSending(t, s, m2.ID, "SMev2", at(time.Second))
	ingest(t, s, callback("SMev2", switchboard.StatusDelivered, at(2*time.Second)))
	ingest(t, s, callback("SMev2", switchboard.StatusRead, at(3*time.Second)))
	got := moves(t, s)[3:]
	wantEqual(t, "delivered then read", []statusMove{
		{m2.ID, "queued", "sending", "SMev2", 0},
		{m2.ID, "sending", "delivered", "SMev2", 0},
		{m2.ID, "delivered", "read", "SMev2", 0},
	}, got)
}

func testEventsPendingCallbacks(t *testing.T, s switchboard.Store) {
	m := createAt(t, s, at(0), nil)
	// The callbacks beat the provider's answer: kept pending, no message moved, no event.
	ingest(t, s, callback("SMpend", switchboard.StatusSent, at(time.Second)))
	ingest(t, s, callback("SMpend", switchboard.StatusDelivered, at(2*time.Second)))
	if got := events(t, s); len(got) != 0 {
		t.Fatalf("pending callbacks wrote %d events", len(got))
	}
	setSending(t, s, m.ID, "SMpend", at(3*time.Second))
	wantEqual(t, "each move reported", []statusMove{
		{m.ID, "queued", "sending", "SMpend", 0},
		{m.ID, "sending", "sent", "SMpend", 0},
		{m.ID, "sent", "delivered", "SMpend", 0},
	}, moves(t, s))
}

func testEventsAdoption(t *testing.T, s switchboard.Store) {
	m := createAt(t, s, at(0), nil)
	update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, AttemptInFlight: ptr(true), At: at(time.Second)})
	cb := callback("SMadopt", switchboard.StatusDelivered, at(2*time.Second))
	cb.MessageID = m.ID
	ingest(t, s, cb)
	wantEqual(t, "moves", []statusMove{
		{m.ID, "queued", "sending", "", 0},
		{m.ID, "sending", "delivered", "SMadopt", 0},
	}, moves(t, s))
}

func testEventsRefusedChange(t *testing.T, s switchboard.Store) {
	m := createAt(t, s, at(0), nil)
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "nobody", Status: switchboard.StatusSending, At: at(time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	_, err = s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, RequireStatus: []switchboard.Status{switchboard.StatusSent},
		Status: switchboard.StatusCanceled, At: at(time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "status_conflict")
	// A SID another message owns fails the whole update, its event included.
	other := createAt(t, s, at(0), nil)
	setSending(t, s, other.ID, "SMtaken", at(time.Second))
	_, err = s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, ProviderSID: ptr("SMtaken"), At: at(2 * time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "provider_sid_taken")
	wantEqual(t, "only the committed move", []statusMove{{other.ID, "queued", "sending", "SMtaken", 0}}, moves(t, s))
}

func testEventsInboundConsent(t *testing.T, s switchboard.Store) {
	in := &switchboard.InboundMessage{
		ID: newID("in"), ProviderSID: "SMinev", Channel: switchboard.ChannelMMS, From: toA, To: fromA, Body: "photo attached",
		NumMedia: 2, MediaURLs: []string{"https://media.example/1", "https://media.example/2"},
		MediaContentTypes: []string{"image/jpeg", "image/png"}, ReceivedAt: at(time.Second),
	}
	if created, err := s.CreateInbound(t.Context(), in); err != nil || !created {
		t.Fatalf("CreateInbound = %v, %v", created, err)
	}
	retry := *in
	retry.ID = newID("in")
	if created, err := s.CreateInbound(t.Context(), &retry); err != nil || created {
		t.Fatalf("CreateInbound(retry) = %v, %v", created, err)
	}
	got := events(t, s, switchboard.AppMessageReceived)
	if len(got) != 1 || !got[0].At.Equal(at(time.Second)) {
		t.Fatalf("message.received events: %+v, want one (a webhook retry is not a new message)", got)
	}
	var d switchboard.MessageReceivedData
	if err := json.Unmarshal(got[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "message.received", switchboard.MessageReceivedData{
		InboundID: in.ID, ProviderSID: "SMinev", Channel: switchboard.ChannelMMS, From: toA, To: fromA, Body: "photo attached",
		NumMedia: 2, Media: []switchboard.MediaItem{{URL: "https://media.example/1", ContentType: "image/jpeg"}, {URL: "https://media.example/2", ContentType: "image/png"}},
		ReceivedAt: at(time.Second),
	}, d)

	c := record(t, s, consent(toA, "default", switchboard.ConsentOptedOut, at(2*time.Second)))
	got = events(t, s, switchboard.AppConsentChanged)
	if len(got) != 1 || !got[0].At.Equal(at(2*time.Second)) {
		t.Fatalf("consent.changed events: %+v", got)
	}
	var cd switchboard.ConsentChangedData
	if err := json.Unmarshal(got[0].Data, &cd); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "consent.changed", switchboard.ConsentChangedData{RecordID: c.ID, Phone: toA, Scope: "default",
		State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromKeyword, Evidence: c.Evidence, Actor: c.Actor}, cd)
	// A refused record writes nothing.
	if err := s.RecordConsent(t.Context(), &switchboard.ConsentRecord{Phone: toA, Scope: "*", State: "maybe", At: at(0)}); err == nil {
		t.Fatal("an invalid consent record was accepted")
	}
	if n := len(events(t, s)); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
}

func testEventsList(t *testing.T, s switchboard.Store) {
	for i := range 5 {
		record(t, s, consent(fmt.Sprintf("+1415555010%d", i), "*", switchboard.ConsentOptedIn, at(time.Duration(i)*time.Second)))
	}
	m := createAt(t, s, at(0), nil)
	setSending(t, s, m.ID, "SMlist", at(time.Second))
	all := events(t, s)
	if len(all) != 6 {
		t.Fatalf("%d events, want 6", len(all))
	}
	page, err := s.ListAppEvents(t.Context(), switchboard.AppEventFilter{AfterSeq: all[1].Seq, Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Fatalf("page after %d: %v %v", all[1].Seq, page, err)
	}
	wantEqual(t, "event round trip", all[2], page[0], cmpopts.EquateEmpty())
	only := events(t, s, switchboard.AppMessageStatusChanged, switchboard.AppEndpointDisabled)
	if len(only) != 1 || only[0].ID != all[5].ID {
		t.Fatalf("type filter: %+v", only)
	}
}

// newEndpoint returns an API endpoint for patterns.
func newEndpoint(created time.Time, patterns ...string) *switchboard.Endpoint {
	return &switchboard.Endpoint{
		ID: newID("ep"), URL: "https://app.example/hooks/" + newID("p"), Description: "orders service",
		EventTypes: patterns, Secrets: []switchboard.EndpointSecret{{Secret: "whsec_" + newID("s")}},
		Source: switchboard.EndpointFromAPI, CreatedAt: created, UpdatedAt: created,
	}
}

func createEndpoint(t *testing.T, s switchboard.Store, e *switchboard.Endpoint) *switchboard.Endpoint {
	t.Helper()
	if err := s.CreateEndpoint(t.Context(), e); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return e
}

func getEndpoint(t *testing.T, s switchboard.Store, id string) *switchboard.Endpoint {
	t.Helper()
	e, err := s.GetEndpoint(t.Context(), id)
	if err != nil {
		t.Fatalf("GetEndpoint(%s): %v", id, err)
	}
	return e
}

func fanOut(t *testing.T, s switchboard.Store, now time.Time) int {
	t.Helper()
	total := 0
	for {
		n, err := s.FanOutEvents(t.Context(), now, 100)
		if err != nil {
			t.Fatalf("FanOutEvents: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func deliveries(t *testing.T, s switchboard.Store, endpointID string, status switchboard.DeliveryStatus) []*switchboard.Delivery {
	t.Helper()
	var out []*switchboard.Delivery
	f := switchboard.DeliveryFilter{EndpointID: endpointID, Status: status, Limit: 100}
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("ListDeliveries: too many pages")
		}
		ds, next, err := s.ListDeliveries(t.Context(), f)
		if err != nil {
			t.Fatalf("ListDeliveries: %v", err)
		}
		out = append(out, ds...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

func claimDeliveries(t *testing.T, s switchboard.Store, owner string, now time.Time, limit int) []*switchboard.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(t.Context(), switchboard.DeliveryClaim{Owner: owner, Now: now, LeaseUntil: now.Add(30 * time.Second), Limit: limit})
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func finish(t *testing.T, s switchboard.Store, r switchboard.DeliveryResult) bool {
	t.Helper()
	disabled, err := s.FinishDelivery(t.Context(), r)
	if err != nil {
		t.Fatalf("FinishDelivery(%s): %v", r.ID, err)
	}
	return disabled
}

var endpointOpts = cmpopts.EquateEmpty()

func testEndpointCRUD(t *testing.T, s switchboard.Store) {
	a := createEndpoint(t, s, newEndpoint(at(0), "*"))
	b := createEndpoint(t, s, newEndpoint(at(time.Second), "message.*", "consent.changed"))
	wantEqual(t, "get", a, getEndpoint(t, s, a.ID), endpointOpts)
	wantEqual(t, "secrets kept", a.Secrets, getEndpoint(t, s, a.ID).Secrets)
	list, err := s.ListEndpoints(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "list", []*switchboard.Endpoint{a, b}, list, endpointOpts)
	wantErr(t, s.CreateEndpoint(t.Context(), a), switchboard.ECONFLICT, "endpoint_exists")
	_, err = s.GetEndpoint(t.Context(), "ep_missing")
	wantErr(t, err, switchboard.ENOTFOUND, "endpoint_not_found")
	if err := s.DeleteEndpoint(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteEndpoint(t.Context(), a.ID), switchboard.ENOTFOUND, "endpoint_not_found")
	if list, _ := s.ListEndpoints(t.Context(), ""); len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("after delete: %+v", list)
	}
}

func testEndpointRotate(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	first := e.Secrets[0].Secret
	got, err := s.RotateEndpointSecret(t.Context(), e.ID, "whsec_second", at(time.Hour), at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "active during the grace period", []string{"whsec_second", first}, got.ActiveSecrets(at(30*time.Minute)))
	wantEqual(t, "after the grace period", []string{"whsec_second"}, got.ActiveSecrets(at(time.Hour)))
	wantEqual(t, "stored", got, getEndpoint(t, s, e.ID), endpointOpts)
	if !getEndpoint(t, s, e.ID).UpdatedAt.Equal(at(time.Minute)) {
		t.Fatal("rotation did not stamp UpdatedAt")
	}
	// A second rotation after the first secret expired drops it; the second gets a grace period.
	got, err = s.RotateEndpointSecret(t.Context(), e.ID, "whsec_third", at(3*time.Hour), at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 2 {
		t.Fatalf("expired secret kept: %+v", got.Secrets)
	}
	wantEqual(t, "second rotation", []string{"whsec_third", "whsec_second"}, got.ActiveSecrets(at(2*time.Hour)))
	_, err = s.RotateEndpointSecret(t.Context(), "ep_missing", "whsec_x", at(0), at(0))
	wantErr(t, err, switchboard.ENOTFOUND, "endpoint_not_found")
}

func testEndpointSync(t *testing.T, s switchboard.Store) {
	api := createEndpoint(t, s, newEndpoint(at(0), "*"))
	cfg := func(id, url string, patterns ...string) *switchboard.Endpoint {
		return &switchboard.Endpoint{ID: id, URL: url, EventTypes: patterns, Source: switchboard.EndpointFromConfig,
			Secrets: []switchboard.EndpointSecret{{Secret: "whsec_" + id}}}
	}
	one, two := newID("ep"), newID("ep")
	if err := s.SyncEndpoints(t.Context(), []*switchboard.Endpoint{cfg(one, "https://a.example/1", "*"), cfg(two, "https://a.example/2", "consent.*")}, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e := getEndpoint(t, s, one)
	if e.Source != switchboard.EndpointFromConfig || !e.CreatedAt.Equal(at(time.Minute)) || e.URL != "https://a.example/1" {
		t.Fatalf("synced endpoint: %+v", e)
	}
	// Its delivery state survives a sync: a failing endpoint stays failing.
	record(t, s, consent(toA, "*", switchboard.ConsentOptedIn, at(time.Minute)))
	fanOut(t, s, at(time.Minute))
	for _, d := range claimDeliveries(t, s, "w1", at(time.Minute), 10) {
		finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w1", At: at(time.Minute), StatusCode: 500, Error: "HTTP 500", NextAttemptAt: ptr(at(2 * time.Minute))})
	}
	// Two changes its URL, one disappears from the configuration.
	if err := s.SyncEndpoints(t.Context(), []*switchboard.Endpoint{cfg(two, "https://a.example/two", "*")}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetEndpoint(t.Context(), one)
	wantErr(t, err, switchboard.ENOTFOUND, "endpoint_not_found")
	e = getEndpoint(t, s, two)
	if e.URL != "https://a.example/two" || e.EventTypes[0] != "*" || !e.CreatedAt.Equal(at(time.Minute)) || !e.UpdatedAt.Equal(at(time.Hour)) ||
		e.FailingSince == nil || !e.FailingSince.Equal(at(time.Minute)) {
		t.Fatalf("updated endpoint: %+v", e)
	}
	if ds := deliveries(t, s, two, ""); len(ds) != 1 {
		t.Fatalf("deliveries of a synced endpoint: %d, want kept", len(ds))
	}
	if got := getEndpoint(t, s, api.ID); got.Source != switchboard.EndpointFromAPI {
		t.Fatal("sync touched an API endpoint")
	}
	// A config endpoint may not take an API endpoint's ID.
	err = s.SyncEndpoints(t.Context(), []*switchboard.Endpoint{cfg(api.ID, "https://a.example/x", "*")}, at(time.Hour))
	wantErr(t, err, switchboard.ECONFLICT, "endpoint_exists")
}

func testFanOut(t *testing.T, s switchboard.Store) {
	all := createEndpoint(t, s, newEndpoint(at(0), "*"))
	msgs := createEndpoint(t, s, newEndpoint(at(0), "message.*"))
	cons := createEndpoint(t, s, newEndpoint(at(0), "consent.changed"))
	if n := fanOut(t, s, at(0)); n != 0 {
		t.Fatalf("fanned out %d events of an empty log", n)
	}
	m := createAt(t, s, at(0), nil)
	setSending(t, s, m.ID, "SMfan", at(time.Second))
	record(t, s, consent(toA, "*", switchboard.ConsentOptedIn, at(2*time.Second)))
	if n := fanOut(t, s, at(3*time.Second)); n != 2 {
		t.Fatalf("fanned out %d events, want 2", n)
	}
	if n := fanOut(t, s, at(4*time.Second)); n != 0 {
		t.Fatalf("fanned out %d events again", n)
	}
	evs := events(t, s)
	for _, c := range []struct {
		ep   *switchboard.Endpoint
		want []string
	}{{all, []string{evs[1].ID, evs[0].ID}}, {msgs, []string{evs[0].ID}}, {cons, []string{evs[1].ID}}} {
		ds := deliveries(t, s, c.ep.ID, "")
		var got []string
		for _, d := range ds {
			got = append(got, d.EventID)
			if d.Status != switchboard.DeliveryPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(at(3*time.Second)) ||
				d.EndpointID != c.ep.ID || d.Event == nil || d.Event.ID != d.EventID || !strings.HasPrefix(d.ID, "dlv_") {
				t.Fatalf("delivery %+v", d)
			}
		}
		wantEqual(t, "deliveries of "+c.ep.EventTypes[0], c.want, got)
	}
}

func testFanOutConcurrent(t *testing.T, s switchboard.Store) {
	a := createEndpoint(t, s, newEndpoint(at(0), "*"))
	b := createEndpoint(t, s, newEndpoint(at(0), "consent.*"))
	const total = 60
	for i := range total {
		record(t, s, consent(fmt.Sprintf("+141555%05d", i), "*", switchboard.ConsentOptedIn, at(time.Duration(i)*time.Millisecond)))
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sum int
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.FanOutEvents(t.Context(), at(time.Second), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				mu.Lock()
				sum += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if sum != total {
		t.Fatalf("fanned out %d events, want %d", sum, total)
	}
	for _, ep := range []*switchboard.Endpoint{a, b} {
		seen := map[string]bool{}
		for _, d := range deliveries(t, s, ep.ID, "") {
			if seen[d.EventID] {
				t.Fatalf("event %s fanned out twice to %s", d.EventID, ep.ID)
			}
			seen[d.EventID] = true
		}
		if len(seen) != total {
			t.Fatalf("%s got %d deliveries, want %d", ep.ID, len(seen), total)
		}
	}
}

func testDeliveryClaim(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	for i := range 3 {
		record(t, s, consent(fmt.Sprintf("+1415555010%d", i), "*", switchboard.ConsentOptedIn, at(0)))
	}
	fanOut(t, s, at(0))
	if got := claimDeliveries(t, s, "w1", at(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(got))
	}
	got := claimDeliveries(t, s, "w1", at(time.Second), 2)
	if len(got) != 2 {
		t.Fatalf("claimed %d, want 2 (the limit)", len(got))
	}
	for _, d := range got {
		if d.Event == nil || d.Endpoint == nil || d.Endpoint.ID != e.ID || d.Endpoint.URL != e.URL || len(d.Endpoint.Secrets) != 1 ||
			d.LeaseOwner != "w1" || d.LeaseUntil == nil || !d.LeaseUntil.Equal(at(31*time.Second)) {
			t.Fatalf("claimed delivery: %+v", d)
		}
	}
	rest := claimDeliveries(t, s, "w2", at(time.Second), 10)
	if len(rest) != 1 {
		t.Fatalf("w2 claimed %d, want the 1 left", len(rest))
	}
	// A lease held is not claimed again until it expires.
	if again := claimDeliveries(t, s, "w2", at(10*time.Second), 10); len(again) != 0 {
		t.Fatalf("claimed %d leased deliveries", len(again))
	}
	_, err := s.FinishDelivery(t.Context(), switchboard.DeliveryResult{ID: got[0].ID, Owner: "w2", At: at(2 * time.Second), Delivered: true})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	if n, err := s.ReleaseDeliveries(t.Context(), "w1"); err != nil || n != 2 {
		t.Fatalf("ReleaseDeliveries = %d, %v; want 2", n, err)
	}
	if again := claimDeliveries(t, s, "w3", at(2*time.Second), 10); len(again) != 2 {
		t.Fatalf("claimed %d released deliveries, want 2", len(again))
	}
	// Expired leases are taken over.
	if again := claimDeliveries(t, s, "w4", at(time.Minute), 10); len(again) != 3 {
		t.Fatalf("claimed %d after the leases expired, want 3", len(again))
	}
	finish(t, s, switchboard.DeliveryResult{ID: rest[0].ID, Owner: "w4", At: at(time.Minute), Delivered: true, StatusCode: 204})
	d := deliveries(t, s, e.ID, switchboard.DeliveryDelivered)
	if len(d) != 1 || d[0].Attempts != 1 || d[0].LastStatusCode != 204 || d[0].LastAttemptAt == nil || !d[0].LastAttemptAt.Equal(at(time.Minute)) {
		t.Fatalf("delivered: %+v", d)
	}
	if again := claimDeliveries(t, s, "w5", at(time.Hour), 10); len(again) != 2 {
		t.Fatalf("claimed %d, want the 2 undelivered", len(again))
	}
}

func testDeliveryRetryDead(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	record(t, s, consent(toA, "*", switchboard.ConsentOptedIn, at(0)))
	fanOut(t, s, at(0))
	d := claimDeliveries(t, s, "w", at(0), 1)[0]
	finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w", At: at(time.Second), StatusCode: 500, Error: "HTTP 500", NextAttemptAt: ptr(at(6 * time.Second))})
	p := deliveries(t, s, e.ID, switchboard.DeliveryPending)
	if len(p) != 1 || p[0].Attempts != 1 || !p[0].NextAttemptAt.Equal(at(6*time.Second)) || p[0].LastError != "HTTP 500" || p[0].LastStatusCode != 500 {
		t.Fatalf("after a failure: %+v", p)
	}
	if got := claimDeliveries(t, s, "w", at(5*time.Second), 1); len(got) != 0 {
		t.Fatal("a retry was claimed before it was due")
	}
	d = claimDeliveries(t, s, "w", at(6*time.Second), 1)[0]
	finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w", At: at(7 * time.Second), Error: "timeout after 10s"})
	dead := deliveries(t, s, e.ID, switchboard.DeliveryDead)
	if len(dead) != 1 || dead[0].Attempts != 2 || dead[0].LastError != "timeout after 10s" || dead[0].Event == nil {
		t.Fatalf("dead letters: %+v", dead)
	}
	if got := claimDeliveries(t, s, "w", at(time.Hour), 1); len(got) != 0 {
		t.Fatal("a dead letter was claimed")
	}
	n, err := s.ReplayDeadLetters(t.Context(), e.ID, at(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ReplayDeadLetters = %d, %v", n, err)
	}
	got := claimDeliveries(t, s, "w", at(2*time.Hour), 1)
	if len(got) != 1 || got[0].Attempts != 0 || got[0].Status != switchboard.DeliveryPending {
		t.Fatalf("replayed: %+v", got)
	}
	finish(t, s, switchboard.DeliveryResult{ID: got[0].ID, Owner: "w", At: at(2 * time.Hour), Delivered: true, StatusCode: 200})
	if got := getEndpoint(t, s, e.ID); got.FailingSince != nil {
		t.Fatalf("a success left the endpoint failing since %v", got.FailingSince)
	}
	_, err = s.ReplayDeadLetters(t.Context(), "ep_missing", at(0))
	wantErr(t, err, switchboard.ENOTFOUND, "endpoint_not_found")
}

func testDeliveryDisable(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	other := createEndpoint(t, s, newEndpoint(at(0), "endpoint.*"))
	for i := range 3 {
		record(t, s, consent(fmt.Sprintf("+1415555010%d", i), "*", switchboard.ConsentOptedIn, at(0)))
	}
	fanOut(t, s, at(0))
	fail := func(d *switchboard.Delivery, when time.Time) bool {
		return finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w", At: when, StatusCode: 503, Error: "HTTP 503",
			NextAttemptAt: ptr(when.Add(time.Hour)), DisableAfter: 24 * time.Hour})
	}
	ds := claimDeliveries(t, s, "w", at(0), 10)
	if len(ds) != 3 {
		t.Fatalf("claimed %d", len(ds))
	}
	if fail(ds[0], at(time.Minute)) {
		t.Fatal("disabled at the first failure")
	}
	if got := getEndpoint(t, s, e.ID); got.FailingSince == nil || !got.FailingSince.Equal(at(time.Minute)) {
		t.Fatalf("failing since %v, want %v", got.FailingSince, at(time.Minute))
	}
	if fail(ds[1], at(23*time.Hour)) {
		t.Fatal("disabled before failing for DisableAfter")
	}
	if !fail(ds[2], at(24*time.Hour+time.Minute)) {
		t.Fatal("not disabled after failing for DisableAfter")
	}
	got := getEndpoint(t, s, e.ID)
	if got.DisabledAt == nil || !got.DisabledAt.Equal(at(24*time.Hour+time.Minute)) {
		t.Fatalf("endpoint after disabling: %+v", got)
	}
	// Every delivery of the disabled endpoint is a dead letter now, and none is claimed.
	if p := deliveries(t, s, e.ID, switchboard.DeliveryPending); len(p) != 0 {
		t.Fatalf("%d pending deliveries of a disabled endpoint", len(p))
	}
	if dead := deliveries(t, s, e.ID, switchboard.DeliveryDead); len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead))
	}
	dis := events(t, s, switchboard.AppEndpointDisabled)
	if len(dis) != 1 || !dis[0].At.Equal(at(24*time.Hour+time.Minute)) {
		t.Fatalf("endpoint.disabled events: %+v", dis)
	}
	var d switchboard.EndpointDisabledData
	if err := json.Unmarshal(dis[0].Data, &d); err != nil || d.EndpointID != e.ID || d.URL != e.URL || !d.FailingSince.Equal(at(time.Minute)) || d.LastError != "HTTP 503" {
		t.Fatalf("endpoint.disabled payload %+v %v", d, err)
	}
	// New events still fan out to it, as dead letters to replay later; the other endpoint hears
	// of the disabling.
	record(t, s, consent(toB, "*", switchboard.ConsentOptedIn, at(25*time.Hour)))
	fanOut(t, s, at(25*time.Hour))
	if dead := deliveries(t, s, e.ID, switchboard.DeliveryDead); len(dead) != 5 {
		t.Fatalf("%d dead letters after more events, want 5 (the disabling and the consent)", len(dead))
	}
	got2 := claimDeliveries(t, s, "w", at(26*time.Hour), 10)
	if len(got2) != 1 || got2[0].EndpointID != other.ID || got2[0].Event.Type != switchboard.AppEndpointDisabled {
		t.Fatalf("claimed %+v, want only the other endpoint's endpoint.disabled", got2)
	}
	finish(t, s, switchboard.DeliveryResult{ID: got2[0].ID, Owner: "w", At: at(26 * time.Hour), Delivered: true, StatusCode: 200})
	n, err := s.ReplayDeadLetters(t.Context(), e.ID, at(27*time.Hour))
	if err != nil || n != 5 {
		t.Fatalf("ReplayDeadLetters = %d, %v; want 5", n, err)
	}
	if got := getEndpoint(t, s, e.ID); got.DisabledAt != nil || got.FailingSince != nil {
		t.Fatalf("replay did not enable the endpoint: %+v", got)
	}
	if got := claimDeliveries(t, s, "w2", at(27*time.Hour), 10); len(got) != 5 {
		t.Fatalf("claimed %d replayed deliveries, want 5", len(got))
	}
}

func testDeliveryList(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	for i := range 7 {
		record(t, s, consent(fmt.Sprintf("+1415555010%d", i), "*", switchboard.ConsentOptedIn, at(time.Duration(i)*time.Second)))
		fanOut(t, s, at(time.Duration(i)*time.Second))
	}
	var seen []string
	f := switchboard.DeliveryFilter{EndpointID: e.ID, Limit: 3}
	for page := 0; page < 10; page++ {
		ds, next, err := s.ListDeliveries(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 3 {
			t.Fatalf("page of %d", len(ds))
		}
		for _, d := range ds {
			seen = append(seen, d.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d deliveries, want 7", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("not newest first: %v", seen)
		}
	}
	if ds := deliveries(t, s, e.ID, switchboard.DeliveryDead); len(ds) != 0 {
		t.Fatalf("%d dead letters, want none", len(ds))
	}
	if ds := deliveries(t, s, "ep_other", ""); len(ds) != 0 {
		t.Fatalf("another endpoint lists %d deliveries", len(ds))
	}
}

func testEndpointDelete(t *testing.T, s switchboard.Store) {
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	record(t, s, consent(toA, "*", switchboard.ConsentOptedIn, at(0)))
	fanOut(t, s, at(0))
	claimDeliveries(t, s, "w", at(0), 10)
	if err := s.DeleteEndpoint(t.Context(), e.ID); err != nil {
		t.Fatal(err)
	}
	if ds := deliveries(t, s, e.ID, ""); len(ds) != 0 {
		t.Fatalf("%d deliveries of a deleted endpoint", len(ds))
	}
	if got := claimDeliveries(t, s, "w", at(time.Hour), 10); len(got) != 0 {
		t.Fatal("claimed a delivery of a deleted endpoint")
	}
	_, err := s.FinishDelivery(t.Context(), switchboard.DeliveryResult{ID: "dlv_gone", Owner: "w", At: at(time.Hour), Delivered: true})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
}

// testEventsRedact: retention removes the text and media of old message.received events, as it
// does those of the inbound messages.
func testEventsRedact(t *testing.T, s switchboard.Store) {
	for i, received := range []time.Time{at(-30 * time.Hour), at(-time.Minute)} {
		in := &switchboard.InboundMessage{ID: newID("in"), ProviderSID: fmt.Sprintf("SMred%d", i), Channel: switchboard.ChannelMMS,
			From: toA, To: fromA, Body: "my card is 4111", NumMedia: 1, MediaURLs: []string{"https://media.example/card.jpg"}, ReceivedAt: received}
		if _, err := s.CreateInbound(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	record(t, s, consent(toA, "*", switchboard.ConsentOptedOut, at(-30*time.Hour)))
	if _, err := s.Redact(t.Context(), at(-24*time.Hour), at(0), 100); err != nil {
		t.Fatal(err)
	}
	evs := events(t, s, switchboard.AppMessageReceived)
	if len(evs) != 2 {
		t.Fatalf("%d message.received events", len(evs))
	}
	for i, ev := range evs {
		var d switchboard.MessageReceivedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		redacted := d.Body == "" && len(d.Media) == 0
		if redacted != (i == 0) || d.InboundID == "" || d.From != toA || d.NumMedia != 1 {
			t.Fatalf("event %d after Redact: %+v, want redacted=%v with the rest kept", i, d, i == 0)
		}
	}
	if c := events(t, s, switchboard.AppConsentChanged); len(c) != 1 || !strings.Contains(string(c[0].Data), "opted_out") {
		t.Fatalf("Redact changed another event: %+v", c)
	}
}

// testPruneEvents: the event log is pruned from its start, only as far as events are old enough,
// fanned out and without a pending delivery; their deliveries go with them; the newest event
// stays.
func testPruneEvents(t *testing.T, s switchboard.Store) {
	ep := createEndpoint(t, s, newEndpoint(at(0), "*"))
	prune := func(want int) {
		t.Helper()
		n, err := s.PruneEvents(t.Context(), at(time.Hour), 100)
		if err != nil || n != want {
			t.Fatalf("PruneEvents = %d, %v; want %d", n, err, want)
		}
	}
	seqs := func() []int64 {
		var out []int64
		for _, e := range events(t, s) {
			out = append(out, e.Seq)
		}
		return out
	}
	prune(0) // an empty log
	for i := range 3 {
		record(t, s, consent(fmt.Sprintf("+1415555010%d", i), "*", switchboard.ConsentOptedIn, at(time.Duration(i)*time.Second)))
	}
	fanOut(t, s, at(3*time.Second))
	ds := claimDeliveries(t, s, "w1", at(3*time.Second), 10)
	if len(ds) != 3 {
		t.Fatalf("claimed %d deliveries, want 3", len(ds))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Event.Seq < ds[j].Event.Seq })
	for _, d := range ds[:2] {
		finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w1", At: at(4 * time.Second), Delivered: true, StatusCode: 204})
	}
	if _, err := s.ReleaseDeliveries(t.Context(), "w1"); err != nil {
		t.Fatal(err)
	}
	record(t, s, consent(toA, "*", switchboard.ConsentOptedIn, at(5*time.Second))) // not fanned out yet
	all := seqs()

	prune(2) // the first two; the third still has a pending delivery
	wantEqual(t, "events after pruning", all[2:], seqs())
	if left := deliveries(t, s, ep.ID, ""); len(left) != 1 || left[0].ID != ds[2].ID {
		t.Fatalf("deliveries left: %+v, want only %s", left, ds[2].ID)
	}
	if again, err := s.PruneEvents(t.Context(), at(2*time.Second), 100); err != nil || again != 0 {
		t.Fatalf("PruneEvents before the third event's time = %d, %v; want 0", again, err)
	}

	finish(t, s, switchboard.DeliveryResult{ID: claimDeliveries(t, s, "w2", at(5*time.Second), 10)[0].ID, Owner: "w2",
		At: at(6 * time.Second), Delivered: true})
	prune(1) // the third; the fourth is not fanned out
	wantEqual(t, "events after the delivery", all[3:], seqs())

	fanOut(t, s, at(7*time.Second))
	for _, d := range claimDeliveries(t, s, "w3", at(7*time.Second), 10) {
		finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w3", At: at(8 * time.Second), Delivered: true})
	}
	prune(0) // the fourth is the newest: kept, so that its seq is never reused
	wantEqual(t, "the newest event", all[3:], seqs())

	record(t, s, consent(toB, "*", switchboard.ConsentOptedIn, at(2*time.Hour)))
	prune(1)
	if got := seqs(); len(got) != 1 || got[0] <= all[3] {
		t.Fatalf("events after the last prune: %v, want one newer than %d", got, all[3])
	}
	if left := deliveries(t, s, ep.ID, ""); len(left) != 0 {
		t.Fatalf("deliveries of pruned events left: %+v", left)
	}
}
