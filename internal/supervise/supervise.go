// Package supervise runs services and restarts them when they fail, in the
// manner of Erlang supervisors and thejerf/suture: each service is isolated
// (its error or panic affects only itself), restarted after a jittered
// exponential backoff, and a decaying failure count bounds the restart
// intensity.
//
// A small package of our own rather than suture: the pipeline needs a
// per-service choice between "stop everything" and "keep backing off" when
// the intensity is exceeded, restart callbacks for its counters, and the
// project's injectable clock so tests need no sleeps; that is ~200 lines.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// ErrIntensity is wrapped by Serve's error when a service failed more often
// than its policy allows.
var ErrIntensity = errors.New("supervise: restart intensity exceeded")

// ErrPanic is wrapped by the error reported for a service that panicked.
var ErrPanic = errors.New("supervise: panic")

// Service is anything that runs until its context is cancelled. Serve
// returning an error (or panicking) means it failed and should be restarted;
// returning nil before ctx is done means it finished and is not restarted.
type Service interface {
	Serve(ctx context.Context) error
}

// Func adapts a function to Service.
type Func func(ctx context.Context) error

// Serve calls f.
func (f Func) Serve(ctx context.Context) error { return f(ctx) }

// Policy says how a service is restarted.
type Policy struct {
	// Backoff is the delay before the first restart; each further recent
	// failure doubles it.
	Backoff time.Duration
	// MaxBackoff caps the delay.
	MaxBackoff time.Duration
	// Jitter spreads each delay uniformly over [d*(1-Jitter), d*(1+Jitter)).
	Jitter float64
	// FailureThreshold is the restart intensity: when the decayed failure
	// count exceeds it, Serve stops everything and returns ErrIntensity,
	// unless KeepBackingOff is set.
	FailureThreshold float64
	// FailureDecay is the half-life of a failure's weight in the count.
	FailureDecay time.Duration
	// KeepBackingOff keeps restarting a service past its intensity limit,
	// every MaxBackoff, instead of stopping the supervisor.
	KeepBackingOff bool
}

// DefaultPolicy returns suture's defaults: 5 failures with a 30 s half-life,
// backoff from 100 ms to 30 s, 50% jitter.
func DefaultPolicy() Policy {
	return Policy{Backoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, Jitter: 0.5, FailureThreshold: 5, FailureDecay: 30 * time.Second}
}

// Event describes one failure of a service, for logs and counters.
type Event struct {
	Service  string
	Err      error
	Failures float64       // decayed failure count including this one
	Delay    time.Duration // how long until the restart (0 if stopping)
	Stopping bool          // the intensity limit stops the supervisor
}

// Supervisor runs a fixed set of services. Add them before Serve.
type Supervisor struct {
	clock  clock.Clock
	log    *slog.Logger
	notify func(Event)

	mu       sync.Mutex // protects children and rand
	children []child
	rand     *rand.Rand
}

type child struct {
	name   string
	svc    Service
	policy Policy
}

// New returns a supervisor using clk for backoff, logging failures to log
// (nil: slog.Default) and calling notify (may be nil) for each failure.
func New(clk clock.Clock, log *slog.Logger, notify func(Event)) *Supervisor {
	if log == nil {
		log = slog.Default()
	}
	return &Supervisor{clock: clk, log: log, notify: notify, rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// Add registers a service under name with its restart policy.
func (s *Supervisor) Add(name string, svc Service, p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.children = append(s.children, child{name: name, svc: svc, policy: p})
}

// Serve runs every service until ctx is cancelled (then it returns nil once
// all have returned) or a service exceeds its restart intensity (then it
// cancels the others, waits for them, and returns an error wrapping
// ErrIntensity that names the service and its last error).
func (s *Supervisor) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	children := append([]child(nil), s.children...)
	s.mu.Unlock()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		fatal   error
	)
	for _, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx, c); err != nil {
				errOnce.Do(func() { fatal = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return fatal
}

// run keeps one service going; it returns an error only when the service
// exceeded its intensity and stops the supervisor.
func (s *Supervisor) run(ctx context.Context, c child) error {
	var failures float64
	var last time.Time
	for {
		err := serveOnce(ctx, c.svc)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			s.log.Info("service finished", "module", c.name)
			return nil
		}
		now := s.clock.Now()
		if !last.IsZero() && c.policy.FailureDecay > 0 {
			half := float64(now.Sub(last)) / float64(c.policy.FailureDecay)
			failures *= math.Pow(0.5, half)
		}
		failures++
		last = now
		ev := Event{Service: c.name, Err: err, Failures: failures}
		over := failures > c.policy.FailureThreshold
		if over && !c.policy.KeepBackingOff {
			ev.Stopping = true
			s.report(ev)
			return fmt.Errorf("%w: module %q failed %.1f times (limit %g, half-life %s); last error: %w",
				ErrIntensity, c.name, failures, c.policy.FailureThreshold, c.policy.FailureDecay, err)
		}
		ev.Delay = s.delay(c.policy, failures, over)
		s.report(ev)
		if !s.sleep(ctx, ev.Delay) {
			return nil
		}
	}
}

func (s *Supervisor) report(ev Event) {
	if ev.Stopping {
		s.log.Error("restart intensity exceeded, stopping", "module", ev.Service, "failures", ev.Failures, "error", ev.Err)
	} else {
		s.log.Warn("module failed, restarting", "module", ev.Service, "failures", ev.Failures, "delay", ev.Delay, "error", ev.Err)
	}
	if s.notify != nil {
		s.notify(ev)
	}
}

// delay is Backoff doubled per recent failure, capped, then jittered.
func (s *Supervisor) delay(p Policy, failures float64, over bool) time.Duration {
	d := p.MaxBackoff
	if !over {
		exp := math.Max(0, math.Ceil(failures)-1)
		f := float64(p.Backoff) * math.Pow(2, exp)
		if f < float64(p.MaxBackoff) {
			d = time.Duration(f)
		}
	}
	if p.Jitter > 0 {
		s.mu.Lock()
		r := s.rand.Float64()
		s.mu.Unlock()
		d = time.Duration(float64(d) * (1 - p.Jitter + 2*p.Jitter*r))
	}
	return d
}

// sleep waits d on the clock; false if ctx ended first.
func (s *Supervisor) sleep(ctx context.Context, d time.Duration) bool {
	ch := make(chan struct{})
	t := s.clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// serveOnce runs the service, turning a panic into an error with its stack.
func serveOnce(ctx context.Context, svc Service) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, r, debug.Stack())
		}
	}()
	return svc.Serve(ctx)
}
