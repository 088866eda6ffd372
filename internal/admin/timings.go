package admin

import (
	"sort"
	"time"

	"github.com/reprieve/reprieve/internal/promtext"
)

// TimeBuckets are the upper bounds, in seconds, of the wait-time and
// run-time histograms: 5 ms to a day.
var TimeBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}

// histogram counts observations per bucket of TimeBuckets, the last
// counting those above every bound.
type histogram struct {
	counts []uint64
	sum    float64
}

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	i := sort.SearchFloat64s(TimeBuckets, v) // the first bound >= v
	h.counts[i]++
	h.sum += v
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, len(TimeBuckets)+1)} }

// writeTimings writes the two histogram families of the live tubes, in
// name order (a family with no tube yet is left out).
func (o *Observer) writeTimings(e *promtext.Writer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var names []string
	var waits, runs int
	for name, t := range o.tubes {
		if t.wait == nil && t.run == [2]*histogram{} {
			continue
		}
		names = append(names, name)
		if t.wait != nil {
			waits++
		}
		if t.run != [2]*histogram{} {
			runs++
		}
	}
	sort.Strings(names)
	if waits > 0 {
		e.Family("reprieve_tube_wait_seconds", promtext.Histogram, "Time from put to reserve of a tube's jobs.")
	}
	for _, name := range names {
		if h := o.tubes[name].wait; h != nil {
			e.HistogramSample("reprieve_tube_wait_seconds", TimeBuckets, h.counts, h.sum, "tube", name)
		}
	}
	if runs > 0 {
		e.Family("reprieve_tube_run_seconds", promtext.Histogram, "Time from reserve to delete or fail of a tube's jobs, by outcome.")
	}
	for _, name := range names {
		for i, outcome := range []string{"deleted", "failed"} {
			if h := o.tubes[name].run[i]; h != nil {
				e.HistogramSample("reprieve_tube_run_seconds", TimeBuckets, h.counts, h.sum, "tube", name, "outcome", outcome)
			}
		}
	}
}
