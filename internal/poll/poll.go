// Package poll is the tests' one way to wait for a condition that
// goroutines the test started (or another process) will make true.
package poll

import (
	"runtime"
	"testing"
	"time"
)

// Limit is how long Until waits before it fails the test. Only a hang
// reaches it: tests never use it to assert how long something took.
const Limit = 30 * time.Second

// Until returns once cond holds. It calls cond again and again, yielding
// between calls at first, then sleeping (at most a millisecond) between
// them, and fails t with what it was waiting for if cond still does not
// hold after Limit. It must be called from the test's goroutine.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	until(t, what, cond, Limit)
}

func until(t testing.TB, what string, cond func() bool, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for: %s", limit, what)
		}
		if i < 1000 {
			runtime.Gosched()
		} else {
			time.Sleep(min(time.Duration(i-999)*10*time.Microsecond, time.Millisecond))
		}
	}
}

// Receive returns the next value sent on ch, or the zero value once ch is
// closed. It fails t with what it was waiting for if neither happens
// within Limit. It must be called from the test's goroutine.
func Receive[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	return receive(t, what, ch, Limit)
}

func receive[T any](t testing.TB, what string, ch <-chan T, limit time.Duration) T {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("gave up after %v waiting for: %s", limit, what)
		panic("unreachable") // Fatalf does not return
	}
}
