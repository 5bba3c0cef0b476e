package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard"
)

var eventLogTests = []test{
	{"AppendInLogOrderAndFannedOut", testAppendAppEvent},
	{"AppendRefusesIncomplete", testAppendAppEventInvalid},
}

// testAppendAppEvent: an appended event (a circuit breaker's) takes its place in the log after
// the events of changes, round-trips, and is fanned out to the endpoints that match it.
func testAppendAppEvent(t *testing.T, s switchboard.Store) {
	ep := createEndpoint(t, s, newEndpoint(at(0), "provider.*"))
	m := createAt(t, s, at(0), nil)
	setSending(t, s, m.ID, "SMlog", at(time.Second))
	ev, err := switchboard.NewAppEvent(switchboard.AppProviderCircuitOpened, at(2*time.Second), switchboard.CircuitChangedData{
		Provider: "twilio", Node: "node_a", State: "open", OpenedAt: at(2 * time.Second), ConsecutiveFailures: 5, LastError: "connection refused",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAppEvent(t.Context(), ev); err != nil {
		t.Fatalf("AppendAppEvent: %v", err)
	}
	all := events(t, s)
	if len(all) != 2 || all[1].ID != ev.ID || ev.Seq != all[1].Seq || ev.Seq <= all[0].Seq {
		t.Fatalf("log after append: %+v (appended seq %d)", all, ev.Seq)
	}
	// Payloads round-trip as equivalent JSON (PostgreSQL's jsonb reorders keys).
	wantEqual(t, "appended event", ev, all[1], cmpopts.IgnoreFields(switchboard.AppEvent{}, "Data"))
	var d switchboard.CircuitChangedData
	if err := json.Unmarshal(all[1].Data, &d); err != nil || d.State != "open" || d.ConsecutiveFailures != 5 || d.LastError != "connection refused" {
		t.Fatalf("payload %s: %v", all[1].Data, err)
	}
	if n := fanOut(t, s, at(3*time.Second)); n != 2 {
		t.Fatalf("fanned out %d events, want 2", n)
	}
	ds := deliveries(t, s, ep.ID, "")
	if len(ds) != 1 || ds[0].EventID != ev.ID {
		t.Fatalf("deliveries of provider.*: %+v", ds)
	}
}

func testAppendAppEventInvalid(t *testing.T, s switchboard.Store) {
	for _, ev := range []*switchboard.AppEvent{nil, {Type: switchboard.AppProviderCircuitOpened, Data: json.RawMessage(`{}`)}, {ID: "evt_x", Data: json.RawMessage(`{}`)}} {
		if err := s.AppendAppEvent(t.Context(), ev); !switchboard.IsKind(err, switchboard.EINVALID) {
			t.Fatalf("AppendAppEvent(%+v) = %v, want EINVALID", ev, err)
		}
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Fatalf("a refused append wrote %d events", len(evs))
	}
}
