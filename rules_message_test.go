package switchboard_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 891234567, time.UTC)

func ptr[T any](v T) *T { return &v }

func codeOf(err error) string {
	var e *switchboard.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "not an application error: " + err.Error()
	}
	return ""
}

func TestPrepareCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		m           *switchboard.Message
		idem        *switchboard.Idempotency
		code        string
		actor       string
		detail      string
		keepsIdem   bool
		wantCreated time.Time
	}{
		{name: "no message", m: nil, code: "invalid_message"},
		{name: "no ID", m: &switchboard.Message{Status: switchboard.StatusQueued}, code: "invalid_message"},
		{name: "unknown status", m: &switchboard.Message{ID: "msg_1", Status: "lost"}, code: "invalid_message"},
		{name: "plain", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusQueued, CreatedAt: t0},
			actor: "api", detail: "accepted", wantCreated: t0.Truncate(time.Microsecond)},
		{name: "api key", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusQueued, APIKeyID: "key_1"},
			actor: "api_key:key_1", detail: "accepted"},
		{name: "scheduled", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusScheduled, SendAt: ptr(t0)},
			actor: "api", detail: "accepted, scheduled for 2031-03-04T05:06:07Z"},
		{name: "caller explains", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusScheduled, SendAt: ptr(t0),
			Events: []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "keyword", Detail: "held for quiet hours"}}},
			actor: "keyword", detail: "held for quiet hours"},
		{name: "idempotency key kept", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusQueued},
			idem: &switchboard.Idempotency{Key: "k"}, actor: "api", detail: "accepted", keepsIdem: true},
		{name: "empty key dropped", m: &switchboard.Message{ID: "msg_1", Status: switchboard.StatusQueued},
			idem: &switchboard.Idempotency{}, actor: "api", detail: "accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored, idem, err := switchboard.PrepareCreate(tc.m, tc.idem)
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			if err != nil {
				return
			}
			if (idem != nil) != tc.keepsIdem {
				t.Errorf("idempotency record %v, kept want %v", idem, tc.keepsIdem)
			}
			if len(stored.Events) != 1 {
				t.Fatalf("events %v", stored.Events)
			}
			ev := stored.Events[0]
			if ev.Type != switchboard.EventCreated || ev.Actor != tc.actor || ev.Detail != tc.detail ||
				ev.MessageID != tc.m.ID || ev.Status != tc.m.Status || !ev.At.Equal(tc.wantCreated) {
				t.Errorf("created event %+v, want actor %q detail %q at %v", ev, tc.actor, tc.detail, tc.wantCreated)
			}
			if stored == tc.m || len(tc.m.Events) > 0 && &tc.m.Events[0] == &stored.Events[0] {
				t.Error("the stored message shares the caller's")
			}
		})
	}
}

func TestPrepareCreateCopies(t *testing.T) {
	t.Parallel()
	m := &switchboard.Message{ID: "msg_1", Status: switchboard.StatusQueued, MediaURLs: []string{"https://a"},
		Metadata: map[string]string{"k": "v"}, WhatsApp: &switchboard.WhatsAppOptions{}, CreatedAt: t0}
	stored, _, err := switchboard.PrepareCreate(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.MediaURLs[0], m.Metadata["k"] = "changed", "changed"
	if stored.MediaURLs[0] != "https://a" || stored.Metadata["k"] != "v" || stored.WhatsApp == m.WhatsApp {
		t.Errorf("stored %+v shares the caller's collections", stored)
	}
	if stored.CreatedAt.Location() != time.UTC || stored.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("created at %v, want UTC microseconds", stored.CreatedAt)
	}
}

func TestNormalizeStored(t *testing.T) {
	t.Parallel()
	local := t0.In(time.FixedZone("X", 3600))
	m := &switchboard.Message{MediaURLs: []string{}, Metadata: map[string]string{}, SendAt: &local, CreatedAt: local}
	switchboard.NormalizeStored(m)
	if m.MediaURLs != nil || m.Metadata != nil {
		t.Error("empty collections are not nil")
	}
	want := time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.UTC)
	if m.CreatedAt != want || *m.SendAt != want {
		t.Errorf("times %v %v, want %v", m.CreatedAt, *m.SendAt, want)
	}
}

func TestCheckUpdate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		u    switchboard.MessageUpdate
		code string
	}{
		{switchboard.MessageUpdate{At: t0}, "invalid_update"},
		{switchboard.MessageUpdate{ID: "msg_1"}, "invalid_update"},
		{switchboard.MessageUpdate{ID: "msg_1", At: t0, Status: "lost"}, "invalid_update"},
		{switchboard.MessageUpdate{ID: "msg_1", At: t0}, ""},
		{switchboard.MessageUpdate{ID: "msg_1", At: t0, Status: switchboard.StatusSent}, ""},
	} {
		if got := codeOf(switchboard.CheckUpdate(&tc.u)); got != tc.code {
			t.Errorf("CheckUpdate(%+v) = %q, want %q", tc.u, got, tc.code)
		}
	}
}

func TestApplyUpdate(t *testing.T) {
	t.Parallel()
	base := func() *switchboard.Message {
		return &switchboard.Message{ID: "msg_1", Status: switchboard.StatusSending, LeaseOwner: "node-a",
			LeaseUntil: ptr(t0), Attempts: 1, AttemptInFlight: true, CreatedAt: t0, UpdatedAt: t0}
	}
	later := t0.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		m       func(*switchboard.Message)
		u       switchboard.MessageUpdate
		pending []switchboard.RecordedCallback
		code    string
		status  switchboard.Status
		events  int
		apps    int
		check   func(t *testing.T, m *switchboard.Message, evs []*switchboard.Event)
	}{
		{name: "lease lost", u: switchboard.MessageUpdate{LeaseOwner: "node-b"}, code: "lease_lost"},
		{name: "status required", u: switchboard.MessageUpdate{RequireStatus: []switchboard.Status{switchboard.StatusQueued}}, code: "status_conflict"},
		{name: "status among required", u: switchboard.MessageUpdate{RequireStatus: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusSending}},
			status: switchboard.StatusSending},
		{name: "attempt in flight", u: switchboard.MessageUpdate{RequireNoAttemptInFlight: true}, code: "attempt_in_flight"},
		{name: "forward", u: switchboard.MessageUpdate{Status: switchboard.StatusSent, Events: []*switchboard.Event{{Type: switchboard.EventAttempt, ID: 9}}},
			status: switchboard.StatusSent, events: 1, apps: 1, check: func(t *testing.T, m *switchboard.Message, evs []*switchboard.Event) {
				if e := evs[0]; e.ID != 0 || e.MessageID != "msg_1" || e.Status != switchboard.StatusSent || !e.At.Equal(later) {
					t.Errorf("event %+v not stamped", e)
				}
			}},
		{name: "backward skipped", m: func(m *switchboard.Message) { m.Status = switchboard.StatusDelivered },
			u: switchboard.MessageUpdate{Status: switchboard.StatusSent}, status: switchboard.StatusDelivered},
		{name: "fields", u: switchboard.MessageUpdate{ProviderSID: ptr("SM1"), ErrorCode: ptr(30003), ErrorMessage: ptr("unreachable"),
			AttemptInFlight: ptr(false), IncAttempts: true, ReleaseLease: true},
			status: switchboard.StatusSending, check: func(t *testing.T, m *switchboard.Message, _ []*switchboard.Event) {
				if m.ProviderSID != "SM1" || m.ErrorCode != 30003 || m.ErrorMessage != "unreachable" || m.AttemptInFlight ||
					m.Attempts != 2 || m.LeaseOwner != "" || m.LeaseUntil != nil || !m.UpdatedAt.Equal(later.Truncate(time.Microsecond)) {
					t.Errorf("message %+v", m)
				}
			}},
		{name: "lease extended only by its owner", u: switchboard.MessageUpdate{LeaseUntil: ptr(later)},
			status: switchboard.StatusSending, check: func(t *testing.T, m *switchboard.Message, _ []*switchboard.Event) {
				if !m.LeaseUntil.Equal(t0.Truncate(time.Microsecond)) {
					t.Errorf("lease until %v, want unchanged", m.LeaseUntil)
				}
			}},
		{name: "pending callbacks after the update", u: switchboard.MessageUpdate{ProviderSID: ptr("SM1"), Status: switchboard.StatusSent},
			pending: []switchboard.RecordedCallback{{ProviderStatus: "delivered", Status: switchboard.StatusDelivered, ReceivedAt: t0}},
			status:  switchboard.StatusDelivered, events: 1, apps: 2, check: func(t *testing.T, m *switchboard.Message, evs []*switchboard.Event) {
				if !strings.Contains(evs[0].Detail, "before the provider SID was recorded") {
					t.Errorf("detail %q", evs[0].Detail)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			if tc.m != nil {
				tc.m(m)
			}
			u := tc.u
			u.ID, u.At = m.ID, later
			evs, apps, err := switchboard.ApplyUpdate(m, &u, tc.pending)
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			if err != nil {
				return
			}
			if m.Status != tc.status || len(evs) != tc.events || len(apps) != tc.apps {
				t.Errorf("status %s, %d events, %d app events; want %s, %d, %d", m.Status, len(evs), len(apps), tc.status, tc.events, tc.apps)
			}
			if tc.check != nil {
				tc.check(t, m, evs)
			}
		})
	}
}

func TestCheckReplay(t *testing.T) {
	t.Parallel()
	idem := &switchboard.Idempotency{Key: "k", RequestHash: "h1"}
	if err := switchboard.CheckReplay(idem, "h1"); err != nil {
		t.Errorf("same request: %v", err)
	}
	if got := codeOf(switchboard.CheckReplay(idem, "h2")); got != "idempotency_key_reused" {
		t.Errorf("another request under the key: %q", got)
	}
}

func TestSortClaimedMessages(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Second)
	msgs := []*switchboard.Message{{ID: "msg_3", NextAttemptAt: later}, {ID: "msg_2", NextAttemptAt: t0}, {ID: "msg_1", NextAttemptAt: t0}}
	switchboard.SortClaimedMessages(msgs)
	if msgs[0].ID != "msg_1" || msgs[1].ID != "msg_2" || msgs[2].ID != "msg_3" {
		t.Errorf("order %s %s %s, want earliest due first, then by ID", msgs[0].ID, msgs[1].ID, msgs[2].ID)
	}
}
