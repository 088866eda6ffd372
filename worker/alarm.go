package worker

import (
	"context"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// alarm cancels a context when a due time passes. A slot sets one per job
// (the handler's TTR budget) and per command that finishes a job (its
// timeout), and clears it when the job or the command is done. Its one
// timer is armed lazily and moved only to an earlier time: while the due
// times come later and later (job after job with the same TTR), setting
// and clearing costs no timer operation, and the timer fires once per
// budget, finds the due time moved on, and re-arms for it. Per-job timers
// cost CPU and scheduler wake-ups on every job.
type alarm struct {
	clk clock.Clock

	mu     sync.Mutex // protects the rest
	due    time.Time  // when to cancel; zero: nothing due
	cancel context.CancelCauseFunc
	cause  error
	at     time.Time   // when t fires; zero: no timer armed
	t      clock.Timer // the armed timer, nil if none
	gen    uint64      // counts the timers armed; a callback of an earlier one does nothing
}

// set arranges for cancel(cause) at due, in place of what was set before.
func (a *alarm) set(due time.Time, cancel context.CancelCauseFunc, cause error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.due, a.cancel, a.cause = due, cancel, cause
	if a.at.IsZero() || due.Before(a.at) {
		a.arm(due)
	}
}

// clear cancels nothing: what was set is done.
func (a *alarm) clear() {
	a.mu.Lock()
	a.due, a.cancel, a.cause = time.Time{}, nil, nil
	a.mu.Unlock()
}

// stop clears the alarm and stops its timer.
func (a *alarm) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.due, a.cancel, a.cause = time.Time{}, nil, nil
	if a.t != nil {
		a.t.Stop()
	}
	a.gen++
	a.at, a.t = time.Time{}, nil
}

// arm replaces the timer with one that fires at at. a.mu is held.
func (a *alarm) arm(at time.Time) {
	if a.t != nil {
		a.t.Stop()
	}
	a.gen++
	gen := a.gen
	a.at = at
	a.t = a.clk.AfterFunc(at.Sub(a.clk.Now()), func() { a.fire(gen) })
}

// fire runs when the timer armed as gen fires: it cancels what is due, or
// re-arms for a due time that has moved on. It cancels holding a.mu, so
// that once set or clear has returned, a cancel for what was set before
// is either done or never happens (a slot reuses its finish context
// while it is not cancelled). Cancelling takes no lock of the alarm's.
func (a *alarm) fire(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen {
		return
	}
	a.at, a.t = time.Time{}, nil
	switch {
	case a.due.IsZero():
	case a.clk.Now().Before(a.due):
		a.arm(a.due)
	default:
		a.cancel(a.cause)
		a.due, a.cancel, a.cause = time.Time{}, nil, nil
	}
}
