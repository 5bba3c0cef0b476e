package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	// Every value lies within its bucket's bounds, and buckets are contiguous.
	prevHigh := int64(-1)
	for b := range 40 * subCount {
		high := int64(bucketHigh(b))
		if high <= prevHigh {
			t.Fatalf("bucket %d ends at %d, not after the previous bucket's %d", b, high, prevHigh)
		}
		low := uint64(prevHigh + 1)
		if bucketOf(low) != b || bucketOf(uint64(high)) != b {
			t.Fatalf("bucket %d = [%d, %d] but bucketOf gives %d and %d", b, low, high, bucketOf(low), bucketOf(uint64(high)))
		}
		if low >= 2*subCount && float64(uint64(high)-low+1)/float64(low) > 1.0/subCount {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", b, low, high, subCount)
		}
		prevHigh = high
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var values []time.Duration
	var h1, h2 Histogram
	for i := range 100_000 {
		// Log-uniform from 10 µs to 1 s, as latencies spread.
		d := time.Duration(10_000 * math.Pow(100_000, r.Float64()))
		values = append(values, d)
		if i%2 == 0 {
			h1.Record(d)
		} else {
			h2.Record(d)
		}
	}
	h1.Merge(&h2)
	slices.Sort(values)
	if h1.Count() != uint64(len(values)) || h1.Max() != values[len(values)-1] {
		t.Fatalf("count %d max %v, want %d and %v", h1.Count(), h1.Max(), len(values), values[len(values)-1])
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[int(q*float64(len(values)))-1]
		got := h1.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subCount {
			t.Errorf("q%.3f = %v, exact %v: off by more than 1/%d", q, got, exact, subCount)
		}
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Max() != 0 {
		t.Error("an empty histogram reports values")
	}
	var one Histogram
	one.Record(3 * time.Millisecond)
	if one.Quantile(0.5) != 3*time.Millisecond || one.Quantile(0.99) != 3*time.Millisecond {
		t.Errorf("one value: p50 %v p99 %v, want 3ms", one.Quantile(0.5), one.Quantile(0.99))
	}
}
