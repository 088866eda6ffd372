package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/supervise"
)

type recorder struct {
	mu     sync.Mutex // protects events
	events []supervise.Event
	ch     chan supervise.Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan supervise.Event, 100)} }

func (r *recorder) notify(ev supervise.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.ch <- ev
}

func (r *recorder) next(t *testing.T) supervise.Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no supervisor event")
		return supervise.Event{}
	}
}

// waitTimer waits until the supervisor sleeps on the fake clock.
func waitTimer(t *testing.T, c *clock.Fake) {
	t.Helper()
	poll.Until(t, "the supervisor waits on the clock", func() bool { return c.Pending() > 0 })
}

func quiet(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// A failing service is restarted after doubling delays; other services keep
// running untouched (isolation); a panic is a failure like an error.
func TestRestartsWithExponentialBackoff(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	rec := newRecorder()
	s := supervise.New(clk, quiet(t), rec.notify)
	pol := supervise.Policy{Backoff: time.Second, MaxBackoff: 8 * time.Second, FailureThreshold: 100, FailureDecay: time.Hour}
	var runs int
	var mu sync.Mutex // protects runs
	s.Add("flaky", supervise.Func(func(ctx context.Context) error {
		mu.Lock()
		runs++
		n := runs
		mu.Unlock()
		if n == 3 {
			panic("kaboom")
		}
		if n <= 5 {
			return fmt.Errorf("run %d failed", n)
		}
		<-ctx.Done()
		return nil
	}), pol)
	steadyStarted := make(chan struct{})
	s.Add("steady", supervise.Func(func(ctx context.Context) error {
		close(steadyStarted)
		<-ctx.Done()
		return nil
	}), pol)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	<-steadyStarted
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, d := range want {
		ev := rec.next(t)
		if ev.Service != "flaky" || ev.Delay != d || ev.Stopping {
			t.Fatalf("failure %d: %+v, want delay %s", i+1, ev, d)
		}
		if i == 2 && !errors.Is(ev.Err, supervise.ErrPanic) {
			t.Fatalf("failure 3 = %v, want a panic", ev.Err)
		}
		waitTimer(t, clk)
		clk.Advance(d - time.Nanosecond)
		if clk.Pending() != 1 {
			t.Fatalf("restarted before the delay")
		}
		clk.Advance(time.Nanosecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if runs != 6 {
		t.Fatalf("runs = %d, want 6", runs)
	}
}

// Too many failures in a short time stop the supervisor with a clear error;
// failures spread out decay and never reach the limit.
func TestRestartIntensity(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	rec := newRecorder()
	s := supervise.New(clk, quiet(t), rec.notify)
	pol := supervise.Policy{Backoff: time.Second, MaxBackoff: time.Second, FailureThreshold: 3, FailureDecay: 10 * time.Second}
	s.Add("broken", supervise.Func(func(ctx context.Context) error { return errors.New("disk on fire") }), pol)
	othersStopped := make(chan struct{})
	s.Add("bystander", supervise.Func(func(ctx context.Context) error {
		<-ctx.Done()
		close(othersStopped)
		return nil
	}), pol)
	done := make(chan error)
	go func() { done <- s.Serve(context.Background()) }()
	for range 3 {
		rec.next(t)
		waitTimer(t, clk)
		clk.Advance(time.Second)
	}
	err := <-done
	if !errors.Is(err, supervise.ErrIntensity) {
		t.Fatalf("Serve = %v, want ErrIntensity", err)
	}
	want := `supervise: restart intensity exceeded: module "broken" failed 3.6 times (limit 3, half-life 10s); last error: disk on fire`
	if err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", err, want)
	}
	<-othersStopped
}

func TestFailuresDecay(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	rec := newRecorder()
	s := supervise.New(clk, quiet(t), rec.notify)
	pol := supervise.Policy{Backoff: time.Second, MaxBackoff: time.Minute, FailureThreshold: 3, FailureDecay: 10 * time.Second}
	var n int
	s.Add("slowfail", supervise.Func(func(ctx context.Context) error {
		n++
		if n > 20 {
			<-ctx.Done()
			return nil
		}
		return errors.New("again")
	}), pol)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	for i := range 20 {
		ev := rec.next(t)
		if ev.Stopping || ev.Failures > 2.1 {
			t.Fatalf("failure %d: %+v", i, ev)
		}
		waitTimer(t, clk)
		clk.Advance(time.Minute) // a minute apart: the count stays below 2
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With KeepBackingOff a service past its limit keeps restarting at MaxBackoff.
func TestKeepBackingOff(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	rec := newRecorder()
	s := supervise.New(clk, quiet(t), rec.notify)
	pol := supervise.Policy{Backoff: time.Second, MaxBackoff: 5 * time.Second, FailureThreshold: 2, FailureDecay: time.Hour, KeepBackingOff: true}
	s.Add("stubborn", supervise.Func(func(ctx context.Context) error { return errors.New("no") }), pol)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second} {
		ev := rec.next(t)
		if ev.Stopping || ev.Delay != d {
			t.Fatalf("failure %d: %+v, want delay %s", i+1, ev, d)
		}
		waitTimer(t, clk)
		clk.Advance(d)
	}
	rec.next(t)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Jitter spreads delays within the promised range.
func TestJitterRange(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	rec := newRecorder()
	s := supervise.New(clk, quiet(t), rec.notify)
	pol := supervise.Policy{Backoff: time.Second, MaxBackoff: time.Second, Jitter: 0.5, FailureThreshold: 1000, FailureDecay: time.Hour}
	s.Add("j", supervise.Func(func(ctx context.Context) error { return errors.New("x") }), pol)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	distinct := map[time.Duration]bool{}
	for range 30 {
		ev := rec.next(t)
		if ev.Delay < 500*time.Millisecond || ev.Delay >= 1500*time.Millisecond {
			t.Fatalf("delay %s outside [0.5s, 1.5s)", ev.Delay)
		}
		distinct[ev.Delay] = true
		waitTimer(t, clk)
		clk.Advance(ev.Delay)
	}
	if len(distinct) < 10 {
		t.Fatalf("only %d distinct delays in 30: not jittered", len(distinct))
	}
	cancel()
	<-done
}
