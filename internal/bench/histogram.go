package bench

import (
	"math/bits"
	"time"
)

// The histogram is log-linear, in the manner of HdrHistogram: values below
// 2*subBuckets nanoseconds are counted exactly; above that, each power-of-two
// range is split into subBuckets equal buckets, so a reported percentile is
// at most 1/subBuckets (0.8%) above the true value. Recording is a shift, an
// add and two compares: no allocation, no lock (one histogram per connection,
// merged at the end).
const (
	subBits    = 7
	subBuckets = 1 << subBits // buckets per power of two
	// maxGroup bounds the recordable range: values are clamped to
	// maxValue, about 2^41 ns (36 minutes), far beyond any latency we measure.
	maxGroup    = 41 - subBits
	maxValue    = int64(subBuckets)<<(maxGroup+1) - 1
	bucketCount = 2*subBuckets + maxGroup*subBuckets
)

// Histogram counts latencies in nanoseconds. The zero value is empty and
// ready to use. It is not safe for concurrent use: give each goroutine its
// own and Merge them afterwards.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	sum    int64
	min    int64
	max    int64
}

// bucketOf returns the index of the bucket that counts v (0 <= v <= maxValue).
func bucketOf(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	g := bits.Len64(uint64(v)) - (subBits + 1) // 1 for [2S, 4S), 2 for [4S, 8S), …
	sub := int(v>>uint(g)) - subBuckets        // 0 … subBuckets-1
	return 2*subBuckets + (g-1)*subBuckets + sub
}

// bucketHigh returns the largest value counted by bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subBuckets {
		return int64(i)
	}
	g := (i-2*subBuckets)/subBuckets + 1
	sub := (i - 2*subBuckets) % subBuckets
	low := int64(subBuckets+sub) << uint(g)
	return low + int64(1)<<uint(g) - 1
}

// Record counts one value of d; negative values count as 0 and values past
// about 36 minutes as that bound.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += v
}

// Merge adds every value counted by o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest value recorded exactly, or 0 if none was.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest value recorded exactly, or 0 if none was.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the exact mean of the values recorded, or 0 if none was.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.total))
}

// Percentile returns the value below or at which q percent of the recorded
// values lie (0 < q <= 100): the highest value of the bucket holding the
// value of rank ceil(q/100 * count), never above the exact maximum. It
// returns 0 for an empty histogram.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q / 100 * float64(h.total))
	if float64(rank) < q/100*float64(h.total) {
		rank++ // ceil without float surprises for exact products
	}
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			v := bucketHigh(i)
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }
