package client

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", 0}, // overflows int64: malformed
		{"9999999999999", time.Duration(1<<63 - 1).Truncate(time.Second)},
		{"Fri, 02 Jan 2026 15:04:35 GMT", 30 * time.Second}, // IMF-fixdate
		{"Friday, 02-Jan-26 15:05:05 GMT", time.Minute},     // RFC 850
		{"Fri Jan  2 15:04:15 2026", 10 * time.Second},      // asctime
		{"Fri, 02 Jan 2026 15:00:00 GMT", 0},                // in the past
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := New("http://x", "k", WithBackoff(100*time.Millisecond, time.Second))
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		want *= time.Millisecond
		for range 100 {
			if d := c.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	if d := c.backoff(1 << 20); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("backoff of a huge attempt = %v, want capped", d)
	}
}
