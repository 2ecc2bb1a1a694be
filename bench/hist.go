package bench

import (
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets (as HdrHistogram
// does): values below 2·histSub ns are exact, larger ones fall in buckets
// 1/histSub of their power of two wide, so any percentile is reported
// within 1/histSub (about 1.6 %) of the true value. Values over
// histMaxValue are counted in the last bucket. The zero Histogram is empty
// and ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   []uint64 // allocated on first Record
	n        uint64
	sum      uint64 // ns
	min, max uint64 // ns, exact
}

const (
	histSubBits  = 6
	histSub      = 1 << histSubBits
	histMaxShift = 36                                          // values up to 2^(36+7) ns ≈ 2.4 h
	histBuckets  = (histMaxShift + 2) * histSub                // indices 0 .. (histMaxShift+2)*histSub-1
	histMaxValue = uint64(1)<<(histMaxShift+histSubBits+1) - 1 // largest value with its own bucket
)

// bucketOf returns the bucket index of v ns.
func bucketOf(v uint64) int {
	if v > histMaxValue {
		v = histMaxValue
	}
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	mant := uint64(i%histSub + histSub)
	return mant << shift, (mant+1)<<shift - 1
}

// Record adds one duration (negative counts as 0).
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Mean returns the mean, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Max returns the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest sample, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Quantile returns the q-quantile (0 <= q <= 1) by the nearest-rank
// method: the smallest recorded value v such that at least ceil(q·n)
// samples are <= v, reported as the largest value of v's bucket, clamped to
// the exact maximum (so Quantile(1) == Max). It returns 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(h.n) + 0.9999999) // ceil, robust to 0.99*100 = 98.99999
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return time.Duration(min(max(hi, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
