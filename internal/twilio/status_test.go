package twilio

import (
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestMapStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want switchboard.Status
		ok   bool
	}{
		{"accepted", switchboard.StatusSending, true},
		{"scheduled", switchboard.StatusSending, true},
		{"queued", switchboard.StatusSending, true},
		{"sending", switchboard.StatusSending, true},
		{"sent", switchboard.StatusSent, true},
		{"partially_delivered", switchboard.StatusUndelivered, true},
		{"delivered", switchboard.StatusDelivered, true},
		{"read", switchboard.StatusRead, true},
		{"undelivered", switchboard.StatusUndelivered, true},
		{"failed", switchboard.StatusFailed, true},
		{"canceled", switchboard.StatusCanceled, true},
		{"receiving", "", false},
		{"received", "", false},
		{"", "", false},
		{"Delivered", "", false},
		{"exploded", "", false},
	} {
		got, ok := MapStatus(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MapStatus(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && !got.Valid() {
			t.Errorf("MapStatus(%q) = %q, not a valid status", tc.in, got)
		}
	}
}

// TestMapStatusNeverMovesBackwards: Twilio's lifecycle, mapped, only moves forward in ours.
func TestMapStatusNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	for _, path := range [][]string{
		{"accepted", "queued", "sending", "sent", "delivered", "read"},
		{"queued", "sent", "undelivered"},
		{"queued", "sending", "sent", "partially_delivered"},
		{"queued", "failed"},
		{"scheduled", "canceled"},
	} {
		prev := switchboard.StatusSending
		for _, tw := range path[1:] {
			next, _ := MapStatus(tw)
			if next != prev && !prev.CanMoveTo(next) {
				t.Errorf("path %v: %s -> %s is not allowed", path, prev, next)
			}
			prev = next
		}
		// Every path ends in a final status, so that nothing waits for ever.
		if last, _ := MapStatus(path[len(path)-1]); !last.Terminal() {
			t.Errorf("path %v ends in %s, which is not final", path, last)
		}
	}
}
