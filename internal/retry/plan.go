package retry

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Step is one retry of a Plan.
type Step struct {
	// Retry counts retries from 1; it follows failure number Retry.
	Retry int
	// Delay is the wait before this retry, after the failure before it.
	Delay time.Duration
	// At is when the retry happens, counted from the first failure.
	At time.Duration
}

// Plan returns the retries s makes for a job that fails every time, each
// failure happening the instant its retry starts, without jitter (the
// middle of the jitter range). It stops at the give-up, or after 10,000
// steps for a schedule without limits.
func (s Schedule) Plan() []Step {
	var steps []Step
	first := time.Unix(0, 0)
	now := first
	for n := 1; n <= 10000; n++ {
		d, giveUp := s.Next(n, first, now, nil)
		if giveUp {
			break
		}
		now = now.Add(d)
		steps = append(steps, Step{Retry: n, Delay: d, At: now.Sub(first)})
	}
	return steps
}

// WritePlan writes the plan of s as a table: the growing delays one per
// line, then the capped delays summarised, then the give-up.
func (s Schedule) WritePlan(w io.Writer) error {
	steps := s.Plan()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "retry\tdelay\tat (after first failure)")
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		j := i
		for j+1 < len(steps) && steps[j+1].Delay == st.Delay {
			j++
		}
		if j-i >= 2 {
			fmt.Fprintf(tw, "%d–%d\t%v each\t%v … %v\n", st.Retry, steps[j].Retry, st.Delay, fmtAge(st.At), fmtAge(steps[j].At))
			i = j
			continue
		}
		fmt.Fprintf(tw, "%d\t%v\t%v\n", st.Retry, st.Delay, fmtAge(st.At))
	}
	fmt.Fprintf(tw, "give up\tafter failure %d\t%s\n", len(steps)+1, s.limitText(len(steps)+1))
	return tw.Flush()
}

// limitText says which limit gives up after failure n of the plan: with
// both, the one that comes first, and that the other is not reached.
func (s Schedule) limitText(n int) string {
	switch {
	case s.MaxAge > 0 && s.MaxAttempts > 0 && n < s.MaxAttempts:
		return fmt.Sprintf("the next retry would pass max-age %v (max-attempts %d is never reached)", fmtAge(s.MaxAge), s.MaxAttempts)
	case s.MaxAge > 0 && s.MaxAttempts > 0:
		return fmt.Sprintf("max-attempts %d reached (within max-age %v)", s.MaxAttempts, fmtAge(s.MaxAge))
	case s.MaxAge > 0:
		return fmt.Sprintf("the next retry would pass max-age %v", fmtAge(s.MaxAge))
	case s.MaxAttempts > 0:
		return fmt.Sprintf("max-attempts %d reached", s.MaxAttempts)
	}
	return "never"
}

// fmtAge prints a duration rounded to the second, with days for long ones.
func fmtAge(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 24*time.Hour {
		return d.String()
	}
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%v", days, rest)
}
