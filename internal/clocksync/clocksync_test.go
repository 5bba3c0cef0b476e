package clocksync

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCorrectsToReference: a node 5 minutes ahead of its reference reads the reference's time
// once measured, within the round trip; a failed measurement keeps the offset in use.
func TestCorrectsToReference(t *testing.T) {
	t.Parallel()
	ahead := func() time.Time { return time.Now().Add(5 * time.Minute) }
	fail := false
	c := New(ahead, func(context.Context) (time.Time, error) {
		if fail {
			return time.Time{}, errors.New("database down")
		}
		return time.Now(), nil
	})
	if d := time.Until(c.Now()); d < 4*time.Minute {
		t.Fatalf("before any measurement the clock is the node's own: off by %s", d)
	}
	m, err := c.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset > -4*time.Minute || m.Offset < -6*time.Minute {
		t.Fatalf("offset %s, want about -5m", m.Offset)
	}
	if d := time.Until(c.Now()); d.Abs() > m.RTT+time.Second {
		t.Fatalf("corrected clock off by %s (rtt %s)", d, m.RTT)
	}
	fail = true
	if _, err := c.Measure(context.Background()); err == nil {
		t.Fatal("a failed measurement reported no error")
	}
	if c.Offset() != m.Offset {
		t.Fatalf("a failed measurement changed the offset to %s", c.Offset())
	}
	if last, ok := c.Last(); !ok || last.Err == nil {
		t.Fatalf("last measurement %+v does not carry the failure", last)
	}
}

// TestNoCorrectionWithinUncertainty: a node whose clock agrees with the reference within the
// measurement's uncertainty is not corrected (each node would get a different error), while the
// measured offset is still reported.
func TestNoCorrectionWithinUncertainty(t *testing.T) {
	t.Parallel()
	c := New(func() time.Time { return time.Now() }, func(context.Context) (time.Time, error) {
		return time.Now().Add(5 * time.Millisecond), nil
	})
	m, err := c.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Offset() != 0 || m.Offset < 4*time.Millisecond {
		t.Fatalf("offset in use %s, measured %s: want 0 in use, about 5ms measured", c.Offset(), m.Offset)
	}
}
