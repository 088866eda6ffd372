package admin

import (
	"math"
	"sort"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/promtext"
)

// TimeBuckets are the upper bounds, in seconds, of the wait-time and
// run-time histograms: 5 ms to a day.
var TimeBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}

// bucketBounds are TimeBuckets in nanoseconds, for observe.
var bucketBounds = func() []int64 {
	b := make([]int64, len(TimeBuckets))
	for i, s := range TimeBuckets {
		b[i] = int64(math.Round(s * 1e9))
	}
	return b
}()

// histogram counts observations per bucket of TimeBuckets, the last
// counting those above every bound, and their sum in nanoseconds. One
// writer at a time (the engine, under its lock) and any readers: the
// fields are atomic.
type histogram struct {
	counts []atomic.Uint64
	sumNs  atomic.Uint64
}

func newHistogram() *histogram { return &histogram{counts: make([]atomic.Uint64, len(TimeBuckets)+1)} }

// observe counts d (a negative d, a clock stepped back, as 0). Most
// durations fall in the first buckets: a linear search is quickest.
func (h *histogram) observe(d time.Duration) {
	ns := max(int64(d), 0)
	i := 0
	for i < len(bucketBounds) && ns > bucketBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(ns))
}

// snapshot returns the counts and the sum in seconds, or ok false if
// nothing was observed.
func (h *histogram) snapshot() (counts []uint64, sum float64, ok bool) {
	if h == nil {
		return nil, 0, false
	}
	counts = make([]uint64, len(h.counts))
	var n uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	return counts, float64(h.sumNs.Load()) / 1e9, n > 0
}

// writeTimings writes the two histogram families of the live tubes, in
// name order (a family with no observation yet is left out).
func (o *Observer) writeTimings(e *promtext.Writer) {
	type sample struct {
		tube, outcome string
		counts        []uint64
		sum           float64
	}
	var waits, runs []sample
	o.mu.Lock()
	for name, t := range o.tubes {
		if c, sum, ok := t.wait.snapshot(); ok {
			waits = append(waits, sample{name, "", c, sum})
		}
		for i, outcome := range []string{"deleted", "failed"} {
			if c, sum, ok := t.run[i].snapshot(); ok {
				runs = append(runs, sample{name, outcome, c, sum})
			}
		}
	}
	o.mu.Unlock()
	order := func(s []sample) {
		sort.Slice(s, func(i, j int) bool {
			if s[i].tube != s[j].tube {
				return s[i].tube < s[j].tube
			}
			return s[i].outcome < s[j].outcome
		})
	}
	order(waits)
	order(runs)
	if len(waits) > 0 {
		e.Family("reprieve_tube_wait_seconds", promtext.Histogram, "Time from put to reserve of a tube's jobs.")
	}
	for _, s := range waits {
		e.HistogramSample("reprieve_tube_wait_seconds", TimeBuckets, s.counts, s.sum, "tube", s.tube)
	}
	if len(runs) > 0 {
		e.Family("reprieve_tube_run_seconds", promtext.Histogram, "Time from reserve to delete or fail of a tube's jobs, by outcome.")
	}
	for _, s := range runs {
		e.HistogramSample("reprieve_tube_run_seconds", TimeBuckets, s.counts, s.sum, "tube", s.tube, "outcome", s.outcome)
	}
}
