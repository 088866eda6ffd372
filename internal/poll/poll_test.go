package poll

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeT records a Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5000 {
			n.Add(1)
		}
	}()
	Until(t, "n reaches 5000", func() bool { return n.Load() == 5000 })
	<-done
}

func TestUntilFailsWithWhatItWaitedFor(t *testing.T) {
	f := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("Until did not fail the test: %v", r)
			}
		}()
		until(f, "never", func() bool { return false }, 50*time.Millisecond)
	}()
	if f.failed != "gave up after %v waiting for: %s" {
		t.Fatalf("failed with %q", f.failed)
	}
}

func TestReceiveReturnsTheValueSent(t *testing.T) {
	ch := make(chan int)
	go func() { ch <- 7 }()
	if v := Receive(t, "the 7", ch); v != 7 {
		t.Fatalf("Receive = %d, want 7", v)
	}
}

func TestReceiveFailsWithWhatItWaitedFor(t *testing.T) {
	f := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("Receive did not fail the test: %v", r)
			}
		}()
		receive(f, "never", make(chan int), 50*time.Millisecond)
	}()
	if f.failed != "gave up after %v waiting for: %s" {
		t.Fatalf("failed with %q", f.failed)
	}
}
