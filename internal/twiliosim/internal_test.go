package twiliosim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestEventHeapOrder(t *testing.T) {
	t.Parallel()
	base := time.Now()
	var h eventHeap
	var want []event
	for i := range 2000 {
		ev := event{at: base.Add(time.Duration(rand.IntN(50)) * time.Millisecond), seq: uint64(i)}
		want = append(want, ev)
		h.push(ev)
		if rand.IntN(4) == 0 { // interleave pops with pushes
			got := h.pop()
			slices.SortFunc(want, cmpEvent)
			if got.seq != want[0].seq {
				t.Fatalf("pop = seq %d, want %d", got.seq, want[0].seq)
			}
			want = want[1:]
		}
	}
	slices.SortFunc(want, cmpEvent)
	for _, w := range want {
		if got := h.pop(); got.seq != w.seq {
			t.Fatalf("pop = seq %d at %v, want seq %d at %v", got.seq, got.at, w.seq, w.at)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d events left", len(h))
	}
}

func cmpEvent(a, b event) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return int(a.seq) - int(b.seq)
}

func TestValidators(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"+14155550100": true, "+15005550006": true, "+442071838750": true, "+1234567": true,
		"+123456": false, "14155550100": false, "+04155550100": false, "+1415555010a": false,
		"+1234567890123456": false, "": false, "+": false,
	} {
		if got := isE164(s); got != want {
			t.Errorf("isE164(%q) = %v", s, got)
		}
	}
	mg := "MG" + "0123456789abcdef0123456789abcdef"
	if !isSID(mg, "MG", true) || isSID("MG0123456789ABCDEF0123456789abcdef", "MG", true) ||
		isSID(mg[:33], "MG", true) || isSID("HX"+mg[2:], "MG", true) {
		t.Errorf("isSID")
	}
	for pattern, want := range map[string]bool{"": true, "555": true, "+1415*55": true, "0199": true, "99*9": false, "+2": false} {
		if got := matchPhone(pattern, "+14155550199"); got != want {
			t.Errorf("matchPhone(%q) = %v", pattern, got)
		}
	}
	if got := friendlyName("+15005550006"); got != "(500) 555-0006" {
		t.Errorf("friendlyName = %q", got)
	}
	if got := retryDelay(0); got != 50*time.Millisecond {
		t.Errorf("retryDelay(0) = %v", got)
	}
	if got := retryDelay(4); got != 250*time.Millisecond {
		t.Errorf("retryDelay(4) = %v", got)
	}
	for in, want := range map[string]retryPolicy{"ct": retryConnect, "5xx,rt": retry5xx | retryRead, "all": retryConnect | retryRead | retry4xx | retry5xx, "bogus": 0, "": 0} {
		if got, _ := parseRetryPolicy(in); got != want {
			t.Errorf("parseRetryPolicy(%q) = %v, want %v", in, got, want)
		}
	}
}

// Each sender's rate (twilio-facts.md §6) and the spacing of its queue.
func TestSenderRates(t *testing.T) {
	t.Parallel()
	for n, want := range map[string]float64{"+14155550100": 1, "+18005550100": 3, "+18885550100": 3, "12345": 100, "+447700900123": 10, "whatsapp:+14155550100": 1} {
		if got := senderMPS(n); got != want {
			t.Errorf("senderMPS(%s) = %v, want %v", n, got, want)
		}
	}
	s := New(Config{})
	defer s.Close()
	now := time.Now()
	f := &Faults{ThroughputScale: 2, SenderMPS: map[string]float64{"+14155550199": 5}}
	for _, tc := range []struct {
		from     string
		segments int
		wantGap  time.Duration
	}{{"+14155550100", 1, 500 * time.Millisecond}, {"+18005550100", 3, 500 * time.Millisecond}, {"12345", 4, 20 * time.Millisecond}, {"+14155550199", 1, 100 * time.Millisecond}} {
		t1, _ := s.reserve(f, tc.from, tc.segments, now)
		t2, _ := s.reserve(f, tc.from, tc.segments, now)
		if !t1.Equal(now) || t2.Sub(t1) != tc.wantGap {
			t.Errorf("%s: turns %v and %v after now, want a gap of %v", tc.from, t1.Sub(now), t2.Sub(now), tc.wantGap)
		}
	}
	if turn, _ := s.reserve(&Faults{}, "+14155550100", 1, now); !turn.Equal(now) {
		t.Error("the model is off by default")
	}
}
