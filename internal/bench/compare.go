package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Comparison is the outcome of Compare: the same workload run against two
// servers in alternating rounds (A, B, A, B, …). Ratios are A/B: above 1
// means A did more operations per second.
type Comparison struct {
	Workload Workload `json:"workload"`
	A        string   `json:"a"`
	B        string   `json:"b"`
	// NameA and NameB say what each server is and how durable: Describe's
	// description, or the label the caller gave (Labels).
	NameA       string  `json:"name_a"`
	NameB       string  `json:"name_b"`
	Rounds      []Round `json:"rounds"`
	MedianRatio float64 `json:"median_ratio"`
	MedianA     Median  `json:"median_a"`
	MedianB     Median  `json:"median_b"`
}

// Round is one A run and one B run.
type Round struct {
	A     *Result `json:"a"`
	B     *Result `json:"b"`
	Ratio float64 `json:"ratio"` // A.OpsPerSec / B.OpsPerSec (0 if B did nothing)
}

// Median holds the medians over the rounds of one server's figures.
type Median struct {
	OpsPerSec float64 `json:"ops_per_sec"`
	P50       float64 `json:"p50_us"`
	P99       float64 `json:"p99_us"`
	Errors    int64   `json:"errors"` // total over the rounds
}

// Labels name the two servers of a comparison in its table; an empty label
// is replaced by Describe's description of the server.
type Labels struct{ A, B string }

// Compare runs cfg against cfg.Addr (A) and addrB (B), alternating, rounds
// times, and calls each (if not nil) after every run. Before the first
// round it names each server (labels, or Describe). It stops at the first
// failed run.
func Compare(ctx context.Context, cfg Config, addrB string, rounds int, labels Labels, each func(round int, r *Result)) (*Comparison, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("%w: rounds %d must be at least 1", ErrConfig, rounds)
	}
	if addrB == "" {
		return nil, fmt.Errorf("%w: the address to compare with is empty", ErrConfig)
	}
	cmp := &Comparison{Workload: cfg.Workload, A: cfg.Addr, B: addrB, NameA: labels.A, NameB: labels.B}
	for _, side := range []struct {
		addr string
		name *string
	}{{cfg.Addr, &cmp.NameA}, {addrB, &cmp.NameB}} {
		if *side.name != "" {
			continue
		}
		d, err := Describe(ctx, side.addr, cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("bench: describe %s: %w", side.addr, err)
		}
		*side.name = d
	}
	cfgB := cfg
	cfgB.Addr = addrB
	for i := range rounds {
		var rd Round
		for _, side := range []struct {
			c   Config
			out **Result
		}{{cfg, &rd.A}, {cfgB, &rd.B}} {
			r, err := Run(ctx, side.c)
			if err != nil {
				return cmp, fmt.Errorf("round %d against %s: %w", i+1, side.c.Addr, err)
			}
			*side.out = r
			if each != nil {
				each(i+1, r)
			}
		}
		if rd.B.OpsPerSec > 0 {
			rd.Ratio = rd.A.OpsPerSec / rd.B.OpsPerSec
		}
		cmp.Rounds = append(cmp.Rounds, rd)
	}
	var ratios []float64
	for _, rd := range cmp.Rounds {
		ratios = append(ratios, rd.Ratio)
	}
	cmp.MedianRatio = median(ratios)
	cmp.MedianA = medianOf(cmp.Rounds, func(rd Round) *Result { return rd.A })
	cmp.MedianB = medianOf(cmp.Rounds, func(rd Round) *Result { return rd.B })
	return cmp, nil
}

func medianOf(rounds []Round, pick func(Round) *Result) Median {
	var ops, p50, p99 []float64
	var m Median
	for _, rd := range rounds {
		r := pick(rd)
		ops = append(ops, r.OpsPerSec)
		if len(r.Latency) > 0 {
			p50 = append(p50, r.Latency[0].P50)
			p99 = append(p99, r.Latency[0].P99)
		}
		m.Errors += r.Errors
	}
	m.OpsPerSec, m.P50, m.P99 = median(ops), median(p50), median(p99)
	return m
}

// median returns the middle value (the mean of the two middle values for an
// even count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteText writes the servers, the rounds and the medians as a table.
func (c *Comparison) WriteText(out io.Writer) error {
	fmt.Fprintf(out, "%s\n  A = %s (%s)\n  B = %s (%s)\n", c.Workload, c.A, c.NameA, c.B, c.NameB)
	if len(c.Rounds) > 0 && c.Rounds[0].A.LatencyFrom == FromSchedule {
		fmt.Fprintf(out, "  %s\n", fromScheduleNote)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "round\tA ops/s\tA p99 ms\tB ops/s\tB p99 ms\tA/B\t\n")
	for i, rd := range c.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.3f\t%.0f\t%.3f\t%.2f\t\n", i+1,
			rd.A.OpsPerSec, rd.A.P99()/1000, rd.B.OpsPerSec, rd.B.P99()/1000, rd.Ratio)
	}
	fmt.Fprintf(tw, "median\t%.0f\t%.3f\t%.0f\t%.3f\t%.2f\t\n",
		c.MedianA.OpsPerSec, c.MedianA.P99/1000, c.MedianB.OpsPerSec, c.MedianB.P99/1000, c.MedianRatio)
	return tw.Flush()
}
