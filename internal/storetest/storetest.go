// Package storetest is the conformance suite of switchboard.Store. Every store implementation
// (SQLite, PostgreSQL) runs it unchanged from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) switchboard.Store { return openTestStore(t) })
//	}
//
// The suite checks the rules written in the doc comments of the switchboard package (store.go,
// message.go); when a store method changes, the suite grows first.
//
// Conventions the suite relies on, which a store must keep:
//   - Times round-trip exactly at microsecond precision and compare equal with time.Time.Equal
//     (the suite's own times are truncated to microseconds).
//   - Message and inbound IDs order like their creation (the suite makes them so), and listings
//     are newest first by ID.
//   - JSON payloads round-trip as equivalent JSON (whitespace and key order may change).
package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard"
)

// Run runs every conformance test against stores made by newStore. Each subtest calls newStore
// for a store of its own, empty and ready (migrated), and the subtests run in parallel; newStore
// arranges the store's cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) switchboard.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Tenants", tenantTests},
		{"Messages", messageTests},
		{"Update", updateTests},
		{"Outbox", outboxTests},
		{"Callbacks", callbackTests},
		{"Other", otherTests},
		{"Consent", consentTests},
		{"AppEvents", appEventTests},
		{"Endpoints", endpointTests},
		{"Conversations", conversationTests},
		{"Observe", observeTests},
		{"EventLog", eventLogTests},
		{"Dashboard", dashboardTests},
		{"Verifications", verifyTests},
		{"Calls", callTests},
		{"WhatsApp", whatsAppTests},
		{"Retention", retentionTests},
		{"MediaQueue", mediaQueueTests},
		{"TenantCredentials", tenantCredentialTests},
		{"Usage", usageTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t))
				})
			}
		})
	}
}

// test is one conformance test.
type test struct {
	name string
	fn   func(t *testing.T, s switchboard.Store)
}

// base is the suite's "now". Every time is derived from it and has microsecond precision.
var base = time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.UTC)

// at returns base+d, truncated to the microsecond.
func at(d time.Duration) time.Time { return base.Add(d).Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

// seq makes IDs that order like their creation, unique across the whole test binary.
var seq atomic.Int64

func newID(prefix string) string { return fmt.Sprintf("%s_%012d", prefix, seq.Add(1)) }

// Default numbers of the suite's messages.
const (
	fromA = "+15005550006"
	fromB = "+15005550007"
	fromC = "+15005550008"
	toA   = "+15551230001"
	toB   = "+15551230002"
)

// newMessage returns a queued SMS from fromA to toA, created and due at created.
func newMessage(created time.Time) *switchboard.Message {
	return &switchboard.Message{
		ID:            newID("msg"),
		Status:        switchboard.StatusQueued,
		Channel:       switchboard.ChannelSMS,
		Category:      switchboard.CategoryTransactional,
		To:            toA,
		From:          fromA,
		Body:          "Your technician is on the way",
		BodySHA256:    "0c1f3d8f6a4e1b2c9d7e5f3a1b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c",
		BodyLength:    29,
		Segments:      1,
		Encoding:      switchboard.EncodingGSM7,
		NextAttemptAt: created,
		CreatedAt:     created,
		UpdatedAt:     created,
	}
}

// create stores m without idempotency and fails the test on error.
func create(t *testing.T, s switchboard.Store, m *switchboard.Message) *switchboard.Message {
	t.Helper()
	got, replayed, err := s.CreateMessage(t.Context(), m, nil)
	if err != nil {
		t.Fatalf("CreateMessage(%s): %v", m.ID, err)
	}
	if replayed {
		t.Fatalf("CreateMessage(%s): replayed without an idempotency key", m.ID)
	}
	return got
}

// createAt stores a fresh message created at created after applying edit.
func createAt(t *testing.T, s switchboard.Store, created time.Time, edit func(m *switchboard.Message)) *switchboard.Message {
	t.Helper()
	m := newMessage(created)
	if edit != nil {
		edit(m)
	}
	return create(t, s, m)
}

func get(t *testing.T, s switchboard.Store, id string) *switchboard.Message {
	t.Helper()
	m, err := s.GetMessage(t.Context(), id)
	if err != nil {
		t.Fatalf("GetMessage(%s): %v", id, err)
	}
	return m
}

func update(t *testing.T, s switchboard.Store, u switchboard.MessageUpdate) *switchboard.Message {
	t.Helper()
	m, err := s.UpdateMessage(t.Context(), u)
	if err != nil {
		t.Fatalf("UpdateMessage(%s): %v", u.ID, err)
	}
	return m
}

// setSending moves a message to sending with a provider SID at when, as the dispatcher does
// after the provider accepted it.
func setSending(t *testing.T, s switchboard.Store, id, sid string, when time.Time) *switchboard.Message {
	t.Helper()
	return update(t, s, switchboard.MessageUpdate{ID: id, Status: switchboard.StatusSending, ProviderSID: ptr(sid), At: when})
}

func claim(t *testing.T, s switchboard.Store, p switchboard.ClaimParams) []*switchboard.Message {
	t.Helper()
	msgs, err := s.ClaimMessages(t.Context(), p)
	if err != nil {
		t.Fatalf("ClaimMessages(%+v): %v", p, err)
	}
	return msgs
}

func ingest(t *testing.T, s switchboard.Store, cb *switchboard.Callback) switchboard.CallbackResult {
	t.Helper()
	r, err := s.IngestCallback(t.Context(), cb)
	if err != nil {
		t.Fatalf("IngestCallback(%s): %v", cb.DedupeKey(), err)
	}
	return r
}

// callback returns a Twilio-like status callback for sid.
func callback(sid string, status switchboard.Status, received time.Time) *switchboard.Callback {
	payload, _ := json.Marshal(map[string]string{"MessageSid": sid, "MessageStatus": string(status)})
	return &switchboard.Callback{
		ProviderSID:    sid,
		ProviderStatus: string(status),
		Status:         status,
		Payload:        payload,
		ReceivedAt:     received,
	}
}

// listAll pages through ListMessages and fails on a duplicate, an empty page or too many pages.
func listAll(t *testing.T, s switchboard.Store, f switchboard.MessageFilter) []*switchboard.Message {
	t.Helper()
	var all []*switchboard.Message
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("ListMessages: more than 1000 pages")
		}
		msgs, next, err := s.ListMessages(t.Context(), f)
		if err != nil {
			t.Fatalf("ListMessages(%+v): %v", f, err)
		}
		if f.Limit > 0 && len(msgs) > f.Limit {
			t.Fatalf("ListMessages: page of %d over limit %d", len(msgs), f.Limit)
		}
		if len(msgs) == 0 && page > 0 {
			t.Fatalf("ListMessages: empty page %d after a non-empty cursor", page)
		}
		for _, m := range msgs {
			if seen[m.ID] {
				t.Fatalf("ListMessages: %s listed twice", m.ID)
			}
			seen[m.ID] = true
			if len(m.Events) != 0 {
				t.Errorf("ListMessages: %s has %d events, want none in listings", m.ID, len(m.Events))
			}
		}
		all = append(all, msgs...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

func ids(msgs []*switchboard.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// reversed returns the IDs of msgs, last first.
func reversed(msgs ...*switchboard.Message) []string {
	out := make([]string, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		out = append(out, msgs[i].ID)
	}
	return out
}

// wantErr fails unless err is an application error of kind (and code, when not empty).
func wantErr(t *testing.T, err error, kind switchboard.ErrorKind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s/%s", kind, code)
	}
	if got := switchboard.ErrorKindOf(err); got != kind {
		t.Fatalf("error kind = %s, want %s (error: %v)", got, kind, err)
	}
	if code != "" {
		if got := switchboard.ErrorCodeOf(err); got != code {
			t.Fatalf("error code = %s, want %s (error: %v)", got, code, err)
		}
	}
}

// messageOpts compare messages without their timelines, nil and empty alike.
var messageOpts = []cmp.Option{
	cmpopts.IgnoreFields(switchboard.Message{}, "Events"),
	cmpopts.EquateEmpty(),
}

// wantMessage fails unless got equals want apart from the timeline.
func wantMessage(t *testing.T, want, got *switchboard.Message) {
	t.Helper()
	w := *want
	w.Tenant = switchboard.TenantOr(w.Tenant) // created without a tenant: stored in the default tenant
	if d := cmp.Diff(&w, got, messageOpts...); d != "" {
		t.Fatalf("message %s differs (-want +got):\n%s", want.ID, d)
	}
}

func wantEqual[T any](t *testing.T, what string, want, got T, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Fatalf("%s differs (-want +got):\n%s", what, d)
	}
}

// wantJSON fails unless got is JSON equivalent to want.
func wantJSON(t *testing.T, what string, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want is not JSON: %v", what, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got %q, not JSON: %v", what, got, err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// eventsOf returns the timeline events of type typ.
func eventsOf(m *switchboard.Message, typ switchboard.EventType) []*switchboard.Event {
	var out []*switchboard.Event
	for _, e := range m.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wantTimeline checks the invariants of every timeline: events belong to the message, have
// distinct IDs and are listed in the order they were appended (commit order: the status each
// event records is the status after it, which only reads right in that order; a callback kept
// pending and applied later keeps its earlier arrival time in At); it returns the event types.
func wantTimeline(t *testing.T, m *switchboard.Message) []switchboard.EventType {
	t.Helper()
	var types []switchboard.EventType
	seen := map[int64]bool{}
	for i, e := range m.Events {
		if e.MessageID != m.ID {
			t.Fatalf("event %d of %s belongs to %q", i, m.ID, e.MessageID)
		}
		if e.ID == 0 || seen[e.ID] {
			t.Fatalf("event %d of %s has ID %d, want a distinct non-zero ID", i, m.ID, e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.ID < m.Events[i-1].ID {
			t.Fatalf("events of %s not in append order: id %d after %d", m.ID, e.ID, m.Events[i-1].ID)
		}
		types = append(types, e.Type)
	}
	return types
}
