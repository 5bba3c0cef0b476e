package bench

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into 2^subBits buckets, so
// a recorded value is known to within 1/128 (under 0.8%) of itself.
const (
	subBits  = 7
	subCount = 1 << subBits
)

// Histogram records durations in log-linear buckets, as an HDR histogram does: exact below
// 256 ns, then 128 buckets per power of two. Its size does not grow with the number of values
// (a few kilobytes whatever the run's length), and the maximum is kept exactly. The zero value
// is ready to use; it is not safe for concurrent use (each load worker keeps its own and they
// are merged).
type Histogram struct {
	counts []uint64
	n      uint64
	max    time.Duration
}

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketHigh returns the largest value bucket b holds.
func bucketHigh(b int) uint64 {
	if b < 2*subCount {
		return uint64(b)
	}
	shift := b/subCount - 1
	top := uint64(b%subCount + subCount)
	return (top+1)<<shift - 1
}

// Record adds one duration; a negative one counts as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	b := bucketOf(v)
	if b >= len(h.counts) {
		grown := make([]uint64, b+1)
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if len(o.counts) > len(h.counts) {
		grown := make([]uint64, len(o.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the smallest bucket bound at or below which a fraction q (0 < q ≤ 1) of the
// values lie: an upper estimate within 0.8% of the true quantile, never above Max. It is 0 with
// no values.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketHigh(b)), h.max)
		}
	}
	return h.max
}
