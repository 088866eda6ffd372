// Package clock abstracts time so that timing logic (delays, TTRs, retry
// schedules, supervisor backoff) can be tested without sleeping.
//
// Production code takes a Clock and uses Real(); tests use NewFake and move
// time forward with Advance, which fires due timers synchronously (see Fake
// for exactly which timers one Advance runs).
package clock

import (
	"reflect"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and schedules callbacks.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (Real) or in the goroutine that
	// calls Advance (Fake) once d has elapsed. The returned Timer can stop it.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run yet; it reports whether it did.
	Stop() bool
}

// Real returns the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a manually advanced clock for tests. The zero value is not usable;
// call NewFake.
//
// Its contract, which tests rely on:
//
//   - Time moves only in Advance (and Set), one step at a time: Advance(d)
//     is a step from t to t+d.
//   - A step runs, in deadline order, every timer due by t+d that was armed
//     before it began, and every timer those callbacks arm (directly or
//     through functions they call) that falls due by t+d, so a chain of
//     timers runs to the end of the step. Each callback runs in the
//     goroutine that calls Advance, with Now reading its deadline; when
//     Advance returns they have all finished.
//   - To every other goroutine a step is one jump: while it runs, Now reads
//     t+d and a timer armed for d' falls due at t+d+d' and runs in a later
//     step, never in this one. That is what they would see had they run
//     just after Advance returned, so nothing depends on how the
//     goroutines are scheduled: a goroutine that a callback wakes and that
//     arms its next timer at once (a supervisor's backoff, say) gets one
//     event per step.
type Fake struct {
	mu     sync.Mutex // protects now, timers, seq, steps, end
	now    time.Time
	timers []*fakeTimer
	seq    uint64
	// steps counts the Advance calls running; end is where the latest
	// of them stops.
	steps int
	end   time.Time
}

type fakeTimer struct {
	c       *Fake
	at      time.Time
	seq     uint64
	f       func()
	stopped bool
	// later is set on a timer armed by another goroutine during a step:
	// it waits for a later step even when its deadline is the step's end.
	later bool
}

// NewFake returns a Fake clock reading t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake current time: during an Advance, the deadline of
// the timer whose callback is running to that callback, the Advance's end
// to every other goroutine (see Fake).
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.steps > 0 && !inCallback() {
		return c.end
	}
	return c.now
}

// AfterFunc schedules f to run when Advance moves the clock to or past
// Now()+d; armed during an Advance by a goroutine other than its callbacks,
// in a later Advance (see Fake).
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	if c.steps > 0 && !inCallback() {
		t.at, t.later = c.end.Add(d), true
	}
	c.timers = append(c.timers, t)
	return t
}

// Stop cancels the timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped {
		return false
	}
	t.stopped = true
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, running every timer that falls due,
// in deadline order, each with the clock set to its deadline. Callbacks run
// in the calling goroutine, so when Advance returns they have all finished.
// Timers armed meanwhile by other goroutines wait for a later Advance (see
// Fake).
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	if c.steps == 0 || end.After(c.end) {
		c.end = end
	}
	c.steps++
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		i := 0
		for i < len(c.timers) && c.timers[i].later && !c.timers[i].at.After(end) {
			i++
		}
		if i == len(c.timers) || c.timers[i].at.After(end) {
			c.now = end
			if c.steps--; c.steps == 0 {
				for _, t := range c.timers {
					t.later = false
				}
			}
			c.mu.Unlock()
			return
		}
		t := c.timers[i]
		c.timers = append(c.timers[:i], c.timers[i+1:]...)
		t.stopped = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		fire(t.f)
	}
}

// fire runs a timer's callback. It is never inlined, so that inCallback
// finds it on the stack.
//
//go:noinline
func fire(f func()) { f() }

// fireName is fire's name as the runtime reports it.
var fireName = runtime.FuncForPC(reflect.ValueOf(fire).Pointer()).Name()

// inCallback reports whether the calling goroutine is running a timer
// callback of some Fake's Advance: only those see the step from inside.
func inCallback() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(3, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		fr, more := frames.Next()
		if fr.Function == fireName {
			return true
		}
		if !more {
			return false
		}
	}
}

// Set moves the clock to t (which must not be before Now) as Advance does.
func (c *Fake) Set(t time.Time) { c.Advance(t.Sub(c.Now())) }

// Pending reports how many timers are waiting; tests use it to know that a
// goroutine has reached the point where it waits on the clock.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// PendingAt reports how many waiting timers fall due exactly at t: a test
// that knows the deadline of the wait it expects is then not misled by
// other timers armed and stopped meanwhile.
func (c *Fake) PendingAt(t time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.timers {
		if x.at.Equal(t) {
			n++
		}
	}
	return n
}
