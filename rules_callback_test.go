package switchboard_test

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestCheckCallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cb   *switchboard.Callback
		code string
	}{
		{nil, "invalid_callback"},
		{&switchboard.Callback{Status: switchboard.StatusSent, ReceivedAt: t0}, "invalid_callback"},
		{&switchboard.Callback{ProviderSID: "SM1", Status: "lost", ReceivedAt: t0}, "invalid_callback"},
		{&switchboard.Callback{ProviderSID: "SM1", Status: switchboard.StatusSent}, "invalid_callback"},
		{&switchboard.Callback{ProviderSID: "SM1", Status: switchboard.StatusSent, ReceivedAt: t0}, ""},
	} {
		if got := codeOf(switchboard.CheckCallback(tc.cb)); got != tc.code {
			t.Errorf("CheckCallback(%+v) = %q, want %q", tc.cb, got, tc.code)
		}
	}
}

// TestApplyCallback: the forward-only status merge of provider callbacks.
func TestApplyCallback(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Second)
	for _, tc := range []struct {
		from    switchboard.Status
		cb      switchboard.RecordedCallback
		moved   bool
		status  switchboard.Status
		code    int
		detail  string
		updated time.Time
	}{
		{switchboard.StatusSending, switchboard.RecordedCallback{ProviderStatus: "sent", Status: switchboard.StatusSent},
			true, switchboard.StatusSent, 0, `sending → sent (provider status "sent")`, later},
		{switchboard.StatusSent, switchboard.RecordedCallback{ProviderStatus: "sent", Status: switchboard.StatusSent},
			false, switchboard.StatusSent, 0, `ignored: already sent (provider status "sent")`, t0},
		{switchboard.StatusDelivered, switchboard.RecordedCallback{ProviderStatus: "sent", Status: switchboard.StatusSent},
			false, switchboard.StatusDelivered, 0, `ignored: delivered cannot move back to sent (provider status "sent")`, t0},
		{switchboard.StatusDelivered, switchboard.RecordedCallback{ProviderStatus: "failed", Status: switchboard.StatusFailed},
			false, switchboard.StatusDelivered, 0, `ignored: delivered is final, failed comes too late (provider status "failed")`, t0},
		{switchboard.StatusDelivered, switchboard.RecordedCallback{ProviderStatus: "read", Status: switchboard.StatusRead},
			true, switchboard.StatusRead, 0, `delivered → read (provider status "read")`, later},
		{switchboard.StatusSent, switchboard.RecordedCallback{ProviderStatus: "undelivered", Status: switchboard.StatusUndelivered,
			ErrorCode: 30003, ErrorMessage: "Unreachable"},
			true, switchboard.StatusUndelivered, 30003, `sent → undelivered (provider status "undelivered"): 30003 Unreachable`, later},
		{switchboard.StatusSent, switchboard.RecordedCallback{ProviderStatus: "delivered", Status: switchboard.StatusDelivered,
			ErrorCode: 30003, ErrorMessage: "Unreachable"},
			true, switchboard.StatusDelivered, 0, `sent → delivered (provider status "delivered"): 30003 Unreachable`, later},
	} {
		m := &switchboard.Message{ID: "msg_1", Status: tc.from, UpdatedAt: t0}
		ev, moved := switchboard.ApplyCallback(m, tc.cb, later)
		if moved != tc.moved || m.Status != tc.status || m.ErrorCode != tc.code || ev.Detail != tc.detail ||
			!m.UpdatedAt.Equal(tc.updated) || ev.Status != m.Status || ev.Actor != switchboard.CallbackActor ||
			ev.Type != switchboard.EventCallback || ev.MessageID != "msg_1" {
			t.Errorf("%s + %s: moved %v, message %s/%d updated %v, event %+v", tc.from, tc.cb.Status, moved, m.Status,
				m.ErrorCode, m.UpdatedAt, ev)
		}
	}
}

func TestIngestCallback(t *testing.T) {
	t.Parallel()
	cb := &switchboard.Callback{ProviderSID: "SM1", ProviderStatus: "delivered", Status: switchboard.StatusDelivered,
		MessageID: "msg_1", ReceivedAt: t0.Add(time.Second)}

	c, err := switchboard.IngestCallback(nil, false, nil, cb)
	if err != nil || !c.Result.Pending || c.Moved || len(c.Events) != 0 {
		t.Errorf("no message: %+v, %v; want pending", c, err)
	}

	m := &switchboard.Message{ID: "msg_1", Status: switchboard.StatusSent, ProviderSID: "SM1", UpdatedAt: t0}
	c, err = switchboard.IngestCallback(m, false, nil, cb)
	if err != nil || !c.Moved || c.Adopted || len(c.Events) != 1 || len(c.AppEvents) != 1 ||
		c.Result != (switchboard.CallbackResult{Applied: true, MessageID: "msg_1", Status: switchboard.StatusDelivered}) {
		t.Errorf("applied: %+v, %v", c, err)
	}

	m = &switchboard.Message{ID: "msg_1", Status: switchboard.StatusSending, AttemptInFlight: true, UpdatedAt: t0}
	pending := []switchboard.RecordedCallback{{ProviderStatus: "sent", Status: switchboard.StatusSent, ReceivedAt: t0}}
	c, err = switchboard.IngestCallback(m, true, pending, cb)
	if err != nil || !c.Adopted || !c.Moved || m.ProviderSID != "SM1" || m.AttemptInFlight || len(c.Events) != 2 || len(c.AppEvents) != 2 {
		t.Fatalf("adopted: %+v, message %+v, %v", c, m, err)
	}
	if !strings.Contains(c.Events[0].Detail, "before the provider SID was recorded") ||
		!strings.HasPrefix(c.Events[1].Detail, "provider SID SM1 adopted from the callback; ") {
		t.Errorf("details %q, %q", c.Events[0].Detail, c.Events[1].Detail)
	}
}

func TestDuplicateCallback(t *testing.T) {
	t.Parallel()
	m := &switchboard.Message{ID: "msg_1", Status: switchboard.StatusFailed, ErrorCode: 30008}
	if got := switchboard.DuplicateCallback(m, false); got != (switchboard.CallbackResult{Duplicate: true, MessageID: "msg_1",
		Status: switchboard.StatusFailed, ErrorCode: 30008}) {
		t.Errorf("duplicate of a known message: %+v", got)
	}
	if got := switchboard.DuplicateCallback(m, true); got != (switchboard.CallbackResult{Duplicate: true}) {
		t.Errorf("duplicate that would adopt: %+v", got)
	}
	if got := switchboard.DuplicateCallback(nil, false); got != (switchboard.CallbackResult{Duplicate: true}) {
		t.Errorf("duplicate of no message: %+v", got)
	}
}
