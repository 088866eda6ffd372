package admin

import (
	"sort"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/promtext"
)

// TimeBuckets are the upper bounds, in seconds, of the wait-time and
// run-time histograms: 5 ms to a day.
var TimeBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}

// Timings keeps per-tube histograms of how long jobs wait (put to reserve)
// and run (reserve to delete or fail). It implements broker.Observer: give
// it to broker.Config.Observer and to Config.Timings, and /metrics serves
// it. A tube's histograms stay after the tube empties (as Prometheus
// wants of a counter), until the process restarts. It is safe for
// concurrent use.
type Timings struct {
	mu   sync.Mutex            // protects wait and run
	wait map[string]*histogram // by tube
	run  map[runKey]*histogram
}

type runKey struct{ tube, outcome string }

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

// NewTimings returns empty histograms.
func NewTimings() *Timings {
	return &Timings{wait: map[string]*histogram{}, run: map[runKey]*histogram{}}
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, len(TimeBuckets)+1)} }

// Reserved records that a job of tube waited before it was reserved.
func (t *Timings) Reserved(tube string, waited time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.wait[tube]
	if h == nil {
		h = newHistogram()
		t.wait[tube] = h
	}
	h.observe(waited)
}

// Finished records that a reserved job of tube ran before its worker
// deleted ("deleted") or failed ("failed") it.
func (t *Timings) Finished(tube, outcome string, ran time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := runKey{tube, outcome}
	h := t.run[k]
	if h == nil {
		h = newHistogram()
		t.run[k] = h
	}
	h.observe(ran)
}

// write writes the two histogram families, tubes in name order (a family
// with no tube yet is left out).
func (t *Timings) write(e *promtext.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.wait) > 0 {
		e.Family("reprieve_tube_wait_seconds", promtext.Histogram, "Time from put to reserve of a tube's jobs.")
	}
	tubes := make([]string, 0, len(t.wait))
	for name := range t.wait {
		tubes = append(tubes, name)
	}
	sort.Strings(tubes)
	for _, name := range tubes {
		h := t.wait[name]
		e.HistogramSample("reprieve_tube_wait_seconds", TimeBuckets, h.counts, h.sum, "tube", name)
	}
	if len(t.run) > 0 {
		e.Family("reprieve_tube_run_seconds", promtext.Histogram, "Time from reserve to delete or fail of a tube's jobs, by outcome.")
	}
	keys := make([]runKey, 0, len(t.run))
	for k := range t.run {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].tube != keys[j].tube {
			return keys[i].tube < keys[j].tube
		}
		return keys[i].outcome < keys[j].outcome
	})
	for _, k := range keys {
		h := t.run[k]
		e.HistogramSample("reprieve_tube_run_seconds", TimeBuckets, h.counts, h.sum, "tube", k.tube, "outcome", k.outcome)
	}
}
