package alerts_test

import (
	"context"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/alerts"
)

// fakeStore answers with the outcomes it is given and keeps alert states by compare-and-set.
type fakeStore struct {
	switchboard.ObservabilityStore
	outcomes []switchboard.SenderOutcomes
	states   map[string]switchboard.AlertState
}

func (f *fakeStore) DeliveryOutcomes(context.Context, time.Time, time.Time) ([]switchboard.SenderOutcomes, error) {
	return f.outcomes, nil
}

func (f *fakeStore) AlertStates(context.Context) (map[string]switchboard.AlertState, error) {
	out := map[string]switchboard.AlertState{}
	for k, v := range f.states {
		out[k] = v
	}
	return out, nil
}

func (f *fakeStore) TransitionAlert(_ context.Context, t switchboard.AlertTransition) (bool, error) {
	from := f.states[t.Key]
	if from == "" {
		from = switchboard.AlertOK
	}
	if from != t.From {
		return false, nil
	}
	f.states[t.Key] = t.To
	return true, nil
}

// TestRecoveryMargin: an alert fires below the threshold and recovers only at threshold +
// Recover; in between it stays as it is, in either direction, so a sender hovering at the
// threshold does not flap.
func TestRecoveryMargin(t *testing.T) {
	const sender = "+15005550006"
	st := &fakeStore{states: map[string]switchboard.AlertState{}}
	e := alerts.New(alerts.Config{Store: st, Threshold: 0.9, Recover: 0.02, Window: time.Minute, MinSamples: 10,
		Clock: func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }})
	for i, step := range []struct {
		delivered int64 // of 100 outcomes
		want      switchboard.AlertState
		moved     bool
	}{
		{95, switchboard.AlertOK, false},
		{91, switchboard.AlertOK, false},   // in the margin, not firing: stays ok
		{89, switchboard.AlertFired, true}, // below the threshold
		{90, switchboard.AlertFired, false},
		{91, switchboard.AlertFired, false}, // at the threshold, inside the margin: still firing
		{92, switchboard.AlertOK, true},     // threshold + margin
		{91, switchboard.AlertOK, false},
	} {
		st.outcomes = []switchboard.SenderOutcomes{{Sender: sender, Delivered: step.delivered, Failed: 100 - step.delivered}}
		ts, err := e.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.states[alerts.Key(sender)]; got != step.want && !(got == "" && step.want == switchboard.AlertOK) {
			t.Fatalf("step %d (%d%% delivered): state %q, want %q", i, step.delivered, got, step.want)
		}
		if (len(ts) == 1) != step.moved {
			t.Fatalf("step %d (%d%% delivered): %d transitions, want moved=%v", i, step.delivered, len(ts), step.moved)
		}
	}
}
