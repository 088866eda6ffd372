package bench

import (
	"math"
	"runtime/metrics"
	"testing"
)

// runtimeTail reads the runtime's scheduler-latency and GC-pause
// histograms, so that a benchmark can say how much of a request's tail
// they explain: /sched/latencies is how long goroutines waited runnable
// before running (every request at pipeline 1 waits at least twice: the
// server's connection goroutine for the command, the generator's for the
// reply), /sched/pauses/total/gc the stop-the-world pauses of collections.
type runtimeTail struct {
	samples []metrics.Sample
}

func newRuntimeTail() *runtimeTail {
	t := &runtimeTail{samples: []metrics.Sample{
		{Name: "/sched/latencies:seconds"},
		{Name: "/sched/pauses/total/gc:seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}}
	metrics.Read(t.samples)
	return t
}

// report reads the histograms again and reports, for what happened since
// newRuntimeTail: the scheduler latency's p50 and p99, the GC pauses' p99
// and total, and the collections, in µs and counts.
func (t *runtimeTail) report(b *testing.B) {
	now := []metrics.Sample{{Name: t.samples[0].Name}, {Name: t.samples[1].Name}, {Name: t.samples[2].Name}}
	metrics.Read(now)
	sched := histDelta(t.samples[0].Value.Float64Histogram(), now[0].Value.Float64Histogram())
	pauses := histDelta(t.samples[1].Value.Float64Histogram(), now[1].Value.Float64Histogram())
	b.ReportMetric(sched.quantile(0.50)*1e6, "sched-p50-µs")
	b.ReportMetric(sched.quantile(0.99)*1e6, "sched-p99-µs")
	b.ReportMetric(pauses.quantile(0.99)*1e6, "gc-pause-p99-µs")
	b.ReportMetric(pauses.sum()*1e6, "gc-pause-total-µs")
	b.ReportMetric(float64(now[2].Value.Uint64()-t.samples[2].Value.Uint64()), "gcs")
}

// hist is the difference of two readings of one runtime histogram.
type hist struct {
	counts  []uint64
	buckets []float64
}

func histDelta(a, b *metrics.Float64Histogram) hist {
	h := hist{counts: make([]uint64, len(b.Counts)), buckets: b.Buckets}
	for i := range b.Counts {
		h.counts[i] = b.Counts[i] - a.Counts[i]
	}
	return h
}

// quantile returns the upper bound of the bucket holding quantile q (0 if
// the histogram is empty).
func (h hist) quantile(q float64) float64 {
	var total uint64
	for _, c := range h.counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= want {
			return finite(h.buckets[i+1], h.buckets[i])
		}
	}
	return 0
}

// sum returns the total of the values, each counted at its bucket's
// lower bound.
func (h hist) sum() float64 {
	var s float64
	for i, c := range h.counts {
		s += float64(c) * finite(h.buckets[i], 0)
	}
	return s
}

func finite(v, instead float64) float64 {
	if math.IsInf(v, 0) {
		return instead
	}
	return v
}
