package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Its JSON form (reprieve bench --json)
// is documented in docs/performance.md.
type Result struct {
	Workload  Workload  `json:"workload"`
	Addr      string    `json:"addr"`
	Conns     int       `json:"conns"`
	Pipeline  int       `json:"pipeline"`
	Size      int       `json:"size"`
	Tubes     int       `json:"tubes"`
	Rate      int       `json:"rate,omitempty"` // the puts/s asked for with --rate
	Ops       int64     `json:"ops"`            // operations completed (see Workload)
	Errors    int64     `json:"errors"`         // requests answered with an error reply
	Seconds   float64   `json:"seconds"`        // from the first request to the last operation
	OpsPerSec float64   `json:"ops_per_sec"`    // Ops / Seconds
	Latency   []Latency `json:"latency"`        // the main latency first
	// LatencyFrom says where each latency starts: FromSend (the request
	// was written) or, with Rate, FromSchedule (when the pacing schedule
	// said to send it, however late it was sent).
	LatencyFrom string `json:"latency_from"`
}

// The values of Result.LatencyFrom.
const (
	FromSend     = "send"
	FromSchedule = "schedule"
)

// fromScheduleNote is what the text output says about latencies taken
// from the schedule.
const fromScheduleNote = "latency from each put's scheduled send time (--rate): time queued behind a stall counts (no coordinated omission)"

// Latency summarises one latency histogram, in microseconds.
type Latency struct {
	Name  string  `json:"name"`
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// summarize turns a histogram into a Latency.
func summarize(name string, h *Histogram) Latency {
	return Latency{
		Name: name, Count: h.Count(), Mean: us(h.Mean()),
		P50: us(h.Percentile(50)), P90: us(h.Percentile(90)), P99: us(h.Percentile(99)),
		P999: us(h.Percentile(99.9)), Max: us(h.Max()),
	}
}

// P99 returns the 99th percentile of the main latency in microseconds, or
// 0 if there is none.
func (r *Result) P99() float64 {
	if len(r.Latency) == 0 {
		return 0
	}
	return r.Latency[0].P99
}

// WriteText writes r for people: a summary line and a latency table.
func (r *Result) WriteText(out io.Writer) error {
	fmt.Fprintf(out, "%s on %s: %d conns, pipeline %d, %d-byte jobs, %d tube(s)\n",
		r.Workload, r.Addr, r.Conns, r.Pipeline, r.Size, r.Tubes)
	fmt.Fprintf(out, "%d ops in %.3fs: %.0f ops/s, %d errors\n", r.Ops, r.Seconds, r.OpsPerSec, r.Errors)
	if r.LatencyFrom == FromSchedule {
		fmt.Fprintf(out, "%s, at %d puts/s\n", fromScheduleNote, r.Rate)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "latency (ms)\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t\n")
	for _, l := range r.Latency {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			l.Name, l.Count, l.Mean/1000, l.P50/1000, l.P90/1000, l.P99/1000, l.P999/1000, l.Max/1000)
	}
	return tw.Flush()
}
