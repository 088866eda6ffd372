// Package retry holds backoff schedules and the give-up decision of failure
// policies. It is pure: no clocks, no goroutines, no I/O; the caller passes
// the times and the random source.
package retry

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("retry: invalid schedule")

// Schedule says when a failed job is tried again and when to give up.
//
// The n-th retry (n counted from 1, after the n-th failure) waits
// Initial·Factor^(n-1), at most Cap, then spread by ±Jitter of itself.
// The job is given up after MaxAttempts failures or when the next retry
// would fall later than MaxAge after the first failure, whichever comes
// first; a zero MaxAttempts or MaxAge means that limit is off (Validate
// requires at least one of them).
type Schedule struct {
	// Initial is the delay before the first retry; at least 1s.
	Initial time.Duration
	// Factor multiplies the delay after each failure; 1 keeps it fixed.
	Factor float64
	// Cap is the longest delay before jitter; at least Initial.
	Cap time.Duration
	// Jitter is the fraction, in [0, 1), by which each delay is spread at
	// random, so that jobs that failed together do not retry together.
	Jitter float64
	// MaxAge gives up once the next retry would be more than MaxAge after
	// the first failure; 0 means no age limit.
	MaxAge time.Duration
	// MaxAttempts gives up after this many failures; 0 means no limit.
	MaxAttempts int
}

// DefaultSchedule returns seed 001's schedule: the first retry after one
// minute, each delay 1.5 times the one before up to a one hour cap, then
// hourly, given up when the next retry would fall beyond 72 hours after
// the first failure, with ±10% jitter.
//
// The factor 1.5 is chosen because it lands on the seed's own figure: 11
// growing delays (1m, 1m30s, 2m15s, … 57m40s) take 2h51m, then 69 hourly
// retries fill the rest of the 72 hours, 80 retries in all (see
// TestDefaultSchedulePlan and docs/policies.md). It also matches the
// seed's "second in slightly over a minute". Factor 2 would give 76
// retries, 1.2 would give 89, 1.1 would give 105.
func DefaultSchedule() Schedule {
	return Schedule{
		Initial:     time.Minute,
		Factor:      1.5,
		Cap:         time.Hour,
		Jitter:      0.1,
		MaxAge:      72 * time.Hour,
		MaxAttempts: 0,
	}
}

// InvalidError is a Schedule field that Validate rejects. Field is the
// name of the field as written in the config file (initial, factor, cap,
// jitter, max-age, max-attempts), so that a loader can point at its line.
type InvalidError struct {
	Field   string
	Problem string // what is wrong
	Fix     string // how to fix it
}

// Error returns "retry: invalid schedule: FIELD: PROBLEM; FIX".
func (e *InvalidError) Error() string {
	return fmt.Sprintf("%v: %s: %s; %s", ErrInvalid, e.Field, e.Problem, e.Fix)
}

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Validate returns an *InvalidError for the first field that cannot work,
// or nil.
func (s Schedule) Validate() error {
	bad := func(field, problem, fix string) error {
		return &InvalidError{Field: field, Problem: problem, Fix: fix}
	}
	switch {
	case s.Initial < time.Second:
		return bad("initial", fmt.Sprintf("%v is shorter than 1s", s.Initial), "write a delay of at least 1s, such as 1m")
	case math.IsNaN(s.Factor) || math.IsInf(s.Factor, 0) || s.Factor < 1:
		return bad("factor", fmt.Sprintf("%v is below 1", s.Factor), "use 1 for a fixed delay or more than 1 to grow it, such as 1.5")
	case s.Factor > 100:
		return bad("factor", fmt.Sprintf("%v is above 100", s.Factor), "use a growth factor between 1 and 100, such as 1.5")
	case s.Cap < s.Initial:
		return bad("cap", fmt.Sprintf("%v is shorter than initial (%v)", s.Cap, s.Initial), "make cap at least as long as initial")
	case math.IsNaN(s.Jitter) || s.Jitter < 0 || s.Jitter >= 1:
		return bad("jitter", fmt.Sprintf("%v is outside [0, 1)", s.Jitter), "write a fraction such as 0.1 for ±10%, or 0 for none")
	case s.MaxAge < 0:
		return bad("max-age", fmt.Sprintf("%v is negative", s.MaxAge), "write a positive age such as 72h, or 0 for no age limit")
	case s.MaxAttempts < 0:
		return bad("max-attempts", fmt.Sprintf("%d is negative", s.MaxAttempts), "write a positive count such as 80, or 0 for no limit")
	case s.MaxAge == 0 && s.MaxAttempts == 0:
		return bad("max-age", "neither max-age nor max-attempts is set, so the job would be retried forever", "set max-age (such as 72h), max-attempts (such as 80), or both")
	case s.MaxAge > 0 && s.MaxAge < s.Initial:
		return bad("max-age", fmt.Sprintf("%v is shorter than initial (%v), so no retry would ever happen", s.MaxAge, s.Initial), "make max-age longer than initial, or give the tube no retry")
	}
	return nil
}

// Source is a source of random numbers in [0, 1); *math/rand/v2.Rand
// satisfies it. A nil Source draws no jitter (the middle of the range).
type Source interface {
	Float64() float64
}

// Base returns the delay before the retry that follows failure number
// attempts (counted from 1), before jitter: Initial·Factor^(attempts-1),
// at most Cap. An attempts below 1 is taken as 1.
func (s Schedule) Base(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	m := math.Pow(s.Factor, float64(attempts-1))
	d := float64(s.Initial) * m
	if math.IsInf(d, 0) || math.IsNaN(d) || d >= float64(s.Cap) {
		return s.Cap
	}
	return time.Duration(d)
}

// Next decides what happens after failure number attempts (counted from
// 1, this failure included) of a job that first failed at firstFailure
// and failed again at now. It returns the delay until the retry, or
// giveUp true when the schedule is exhausted (delay is then zero). The
// delay is Base(attempts) spread by ±Jitter with rnd (nil: no spread),
// rounded to the second and never below one second.
func (s Schedule) Next(attempts int, firstFailure, now time.Time, rnd Source) (delay time.Duration, giveUp bool) {
	if s.MaxAttempts > 0 && attempts >= s.MaxAttempts {
		return 0, true
	}
	delay = s.Base(attempts)
	if s.Jitter > 0 && rnd != nil {
		r := rnd.Float64()
		delay += time.Duration((2*r - 1) * s.Jitter * float64(delay))
	}
	delay = delay.Round(time.Second)
	if delay < time.Second {
		delay = time.Second
	}
	if s.MaxAge > 0 && now.Add(delay).Sub(firstFailure) > s.MaxAge {
		return 0, true
	}
	return delay, false
}
