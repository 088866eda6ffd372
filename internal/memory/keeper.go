// Package memory keeps a long-running server's resident memory close to
// what it holds. A queue's heap is mostly long-lived jobs: with the
// runtime's default pacing (GOGC=100) it may grow to twice the live jobs
// before a collection, and memory freed after a burst (many connections
// that went away, a replay's garbage) stays resident for minutes. The
// Keeper lowers the collector's headroom as the live heap grows and hands
// freed memory back to the operating system when a burst is over.
package memory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// ErrConfig means a Config is invalid; the message says which field.
var ErrConfig = errors.New("memory: invalid configuration")

// dropped counts the bytes reported by Dropped since the keeper last
// looked.
var dropped atomic.Int64

// Dropped tells the keeper that n bytes became garbage at once (the body
// buffer of a client that hung up in the middle of a put). Once Release
// bytes have been dropped, the keeper returns memory to the operating
// system at its next look. It is safe for concurrent use and cheap.
func Dropped(n int) { dropped.Add(int64(n)) }

// Config tunes a Keeper. Start from DefaultConfig.
type Config struct {
	// Interval is how often the keeper reads the runtime's memory figures.
	Interval time.Duration
	// Headroom is the least the heap may grow past the live heap before a
	// collection; the most is a quarter of the live heap (MinGCPercent)
	// or, for small heaps, the runtime's default of the whole live heap.
	Headroom uint64
	// MinGCPercent is the lowest GOGC the keeper sets.
	MinGCPercent int
	// Release is how much memory must be idle (freed and not returned to
	// the operating system after a Quiet spell, or reported by Dropped)
	// before the keeper returns it.
	Release uint64
	// Quiet is how long without a collection makes freed memory idle.
	Quiet time.Duration
}

// DefaultConfig returns the defaults: a look every second, 64 MiB of
// headroom at least, GOGC down to 25, memory returned once 64 MiB are
// idle, 5 s without a collection counting as quiet.
func DefaultConfig() Config {
	return Config{
		Interval:     time.Second,
		Headroom:     64 << 20,
		MinGCPercent: 25,
		Release:      64 << 20,
		Quiet:        5 * time.Second,
	}
}

// Validate reports the first invalid field, wrapped around ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0 || c.Quiet <= 0:
		return fmt.Errorf("%w: interval %v and quiet %v must be positive", ErrConfig, c.Interval, c.Quiet)
	case c.MinGCPercent < 1 || c.MinGCPercent > 100:
		return fmt.Errorf("%w: minimum GC percent %d out of range 1…100", ErrConfig, c.MinGCPercent)
	case c.Headroom == 0 || c.Release == 0:
		return fmt.Errorf("%w: headroom and release must be positive", ErrConfig)
	}
	return nil
}

// GCPercent returns the GOGC the keeper sets for a live heap of live
// bytes: 100 (the runtime's default) while live is at most Headroom, then
// Headroom/live, never below MinGCPercent: the heap grows at most
// max(Headroom, live × MinGCPercent/100) past the live heap.
func (c Config) GCPercent(live uint64) int {
	if live <= c.Headroom {
		return 100
	}
	return max(c.MinGCPercent, int(100*c.Headroom/live))
}

// Sample is what the keeper reads from the runtime at each look.
type Sample struct {
	At     time.Time
	Live   uint64 // heap bytes live at the last collection
	Free   uint64 // heap bytes free and not returned to the OS
	Cycles uint64 // collections so far
}

// Keeper runs the policy. Its zero value is not usable: use New.
type Keeper struct {
	cfg     Config
	tuneGC  bool
	pct     int // GOGC set last; 0: none yet
	cycles  uint64
	lastGC  time.Time // when a collection was last seen
	pending int64     // bytes dropped and not yet returned
}

// New returns a Keeper with cfg (invalid fields make it return an error).
// It leaves the collector's pacing alone when the GOGC or GOMEMLIMIT
// environment variable is set: the operator's choice wins.
func New(cfg Config) (*Keeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	return &Keeper{cfg: cfg, tuneGC: !gogc && !limit}, nil
}

// Step applies the policy to one sample and the bytes dropped since the
// last: it returns the GOGC to set (0: leave it) and whether to return
// memory to the operating system now.
func (k *Keeper) Step(s Sample, droppedBytes int64) (gcPercent int, release bool) {
	if s.Cycles != k.cycles || k.lastGC.IsZero() {
		k.cycles, k.lastGC = s.Cycles, s.At
	}
	k.pending += droppedBytes
	if k.tuneGC {
		if p := k.cfg.GCPercent(s.Live); p != k.pct {
			k.pct, gcPercent = p, p
		}
	}
	quiet := s.At.Sub(k.lastGC) >= k.cfg.Quiet
	if k.pending >= int64(k.cfg.Release) || (quiet && s.Free >= k.cfg.Release) {
		k.pending = 0
		// The collection that returning memory forces counts as one:
		// the next quiet spell starts now.
		k.lastGC = s.At
		release = true
	}
	return gcPercent, release
}

// Run looks every Interval until ctx is done, setting GOGC and returning
// memory to the operating system as Step says. It blocks until ctx is
// done.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			metrics.Read(samples)
			s := Sample{At: now, Live: value(samples[0]), Free: value(samples[1]), Cycles: value(samples[2])}
			pct, release := k.Step(s, dropped.Swap(0))
			if pct > 0 {
				debug.SetGCPercent(pct)
			}
			if release {
				debug.FreeOSMemory()
			}
		}
	}
}

func value(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0 // not known to this runtime
	}
	return s.Value.Uint64()
}
