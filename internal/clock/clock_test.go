package clock

import (
	"reflect"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeAdvanceRunsDueTimersInDeadlineOrder(t *testing.T) {
	c := NewFake(epoch)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			got = append(got, name)
			at = append(at, c.Now().Sub(epoch))
		}
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(time.Second, record("a"))
	c.AfterFunc(time.Second, record("a2")) // same deadline: creation order
	c.AfterFunc(10*time.Second, record("late"))
	c.AfterFunc(2*time.Second, record("b"))

	c.Advance(5 * time.Second)

	if want := []string{"a", "a2", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if want := []time.Duration{time.Second, time.Second, 2 * time.Second, 3 * time.Second}; !reflect.DeepEqual(at, want) {
		t.Fatalf("clock during callbacks %v, want %v", at, want)
	}
	if now := c.Now().Sub(epoch); now != 5*time.Second {
		t.Fatalf("Now after Advance = %v, want 5s", now)
	}
	if n := c.Pending(); n != 1 {
		t.Fatalf("Pending = %d, want 1 (the late timer)", n)
	}
}

func TestFakeStop(t *testing.T) {
	c := NewFake(epoch)
	fired := false
	tm := c.AfterFunc(time.Second, func() { fired = true })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer = false, want true")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true, want false")
	}
	c.Advance(time.Hour)
	if fired {
		t.Fatal("a stopped timer fired")
	}
	done := c.AfterFunc(0, func() {})
	c.Advance(0)
	if done.Stop() {
		t.Fatal("Stop of a fired timer = true, want false")
	}
}

func TestFakeTimerScheduledByCallbackFiresInSameAdvance(t *testing.T) {
	c := NewFake(epoch)
	var fired []time.Duration
	c.AfterFunc(time.Second, func() {
		fired = append(fired, c.Now().Sub(epoch))
		c.AfterFunc(time.Second, func() { fired = append(fired, c.Now().Sub(epoch)) })
	})
	c.Set(epoch.Add(3 * time.Second))
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
}

// To another goroutine (here: woken by a callback, which waits until it
// has armed its timers) a step is one jump: it reads the step's end, and
// its timers count from there and do not fire in the step, however the
// goroutines are scheduled.
func TestFakeTimerArmedByAnotherGoroutineWaitsForTheNextAdvance(t *testing.T) {
	c := NewFake(epoch)
	woke, armed := make(chan struct{}), make(chan struct{})
	var fired []time.Duration // written by callbacks only, in Advance's goroutine
	var seen, inside time.Duration
	go func() {
		<-woke
		seen = c.Now().Sub(epoch)
		c.AfterFunc(time.Second, func() { fired = append(fired, c.Now().Sub(epoch)) })
		c.AfterFunc(0, func() { fired = append(fired, -c.Now().Sub(epoch)) })
		close(armed)
	}()
	c.AfterFunc(time.Second, func() {
		close(woke)
		<-armed
		inside = c.Now().Sub(epoch)
	})

	c.Advance(time.Minute)
	if seen != time.Minute || inside != time.Second {
		t.Fatalf("during the step: the other goroutine read %v (want 1m, the step's end), the callback %v (want 1s)", seen, inside)
	}
	if len(fired) != 0 {
		t.Fatalf("timers armed by another goroutine during Advance fired in it, at %v", fired)
	}
	if n := c.Pending(); n != 2 {
		t.Fatalf("Pending after the step = %d, want 2", n)
	}
	c.Advance(0)
	if want := []time.Duration{-time.Minute}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("after Advance(0): fired at %v, want %v (the zero-delay timer, at the step's end)", fired, want)
	}
	c.Advance(time.Second - time.Nanosecond)
	if len(fired) != 1 {
		t.Fatalf("the one-second timer fired before the step's end + 1s: %v", fired)
	}
	c.Advance(time.Nanosecond)
	if want := []time.Duration{-time.Minute, time.Minute + time.Second}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
}

// A callback's timers belong to the step even when armed through other
// functions, and a nested Advance in a callback is one more step.
func TestFakeTimerArmedDeepInCallbackFiresInSameAdvance(t *testing.T) {
	c := NewFake(epoch)
	var fired []time.Duration
	var arm func(depth int)
	arm = func(depth int) {
		if depth > 0 {
			arm(depth - 1)
			return
		}
		c.AfterFunc(time.Second, func() { fired = append(fired, c.Now().Sub(epoch)) })
	}
	c.AfterFunc(time.Second, func() { arm(100) })
	c.Advance(3 * time.Second)
	if want := []time.Duration{2 * time.Second}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
}

func TestRealAfterFunc(t *testing.T) {
	done := make(chan struct{})
	Real().AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if Real().Now().IsZero() {
		t.Fatal("Real().Now() is zero")
	}
}
