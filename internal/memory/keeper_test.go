package memory

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

const mib = 1 << 20

func TestGCPercentFollowsTheLiveHeap(t *testing.T) {
	c := DefaultConfig()
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {10 * mib, 100}, {64 * mib, 100}, {128 * mib, 50}, {200 * mib, 32}, {256 * mib, 25}, {2048 * mib, 25},
	} {
		if got := c.GCPercent(tt.live); got != tt.want {
			t.Errorf("GCPercent(%d MiB) = %d, want %d", tt.live/mib, got, tt.want)
		}
	}
}

func TestStep(t *testing.T) {
	k, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	k.tuneGC = true // whatever the environment of the test says
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	steps := []struct {
		name    string
		s       Sample
		dropped int64
		pct     int
		release bool
	}{
		{"first look sets GOGC", Sample{At: at(0), Live: 10 * mib, Cycles: 1}, 0, 100, false},
		{"unchanged: nothing to set", Sample{At: at(1), Live: 20 * mib, Cycles: 2}, 0, 0, false},
		{"a big live heap lowers GOGC", Sample{At: at(2), Live: 256 * mib, Cycles: 3}, 0, 25, false},
		{"dropped below the threshold", Sample{At: at(3), Live: 256 * mib, Cycles: 4}, 40 * mib, 0, false},
		{"dropped adds up past it", Sample{At: at(4), Live: 256 * mib, Cycles: 5}, 30 * mib, 0, true},
		{"free but collections go on", Sample{At: at(5), Live: 256 * mib, Free: 100 * mib, Cycles: 6}, 0, 0, false},
		{"free, quiet for 4 s only", Sample{At: at(9), Live: 256 * mib, Free: 100 * mib, Cycles: 6}, 0, 0, false},
		{"free and quiet for 5 s", Sample{At: at(10), Live: 256 * mib, Free: 100 * mib, Cycles: 6}, 0, 0, true},
		{"the release's collection restarts the quiet spell", Sample{At: at(11), Live: 16 * mib, Free: 100 * mib, Cycles: 6}, 0, 100, false},
		{"quiet again", Sample{At: at(15), Live: 16 * mib, Free: 100 * mib, Cycles: 6}, 0, 0, true},
		{"little free memory is left alone", Sample{At: at(30), Live: 16 * mib, Free: 63 * mib, Cycles: 6}, 0, 0, false},
	}
	for _, st := range steps {
		pct, release := k.Step(st.s, st.dropped)
		if pct != st.pct || release != st.release {
			t.Fatalf("%s: Step = %d, %v; want %d, %v", st.name, pct, release, st.pct, st.release)
		}
	}

	k.tuneGC = false // GOGC or GOMEMLIMIT set by the operator
	if pct, _ := k.Step(Sample{At: at(31), Live: 1024 * mib, Cycles: 7}, 0); pct != 0 {
		t.Fatalf("Step set GOGC %d with the operator's setting in place", pct)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Interval: 0, Headroom: 1, MinGCPercent: 25, Release: 1, Quiet: time.Second},
		{Interval: time.Second, Headroom: 1, MinGCPercent: 0, Release: 1, Quiet: time.Second},
		{Interval: time.Second, Headroom: 0, MinGCPercent: 25, Release: 1, Quiet: time.Second},
	} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig", c, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

var sink [][]byte

// Memory reported dropped goes back to the operating system at the
// keeper's next look, not minutes later.
func TestRunReturnsDroppedMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for range 128 {
		sink = append(sink, make([]byte, mib))
	}
	runtime.GC() // live now: the collector will not run again by itself
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sink = nil
	cfg := DefaultConfig()
	cfg.Interval = 10 * time.Millisecond
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		k.Run(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	Dropped(128 * mib)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var now runtime.MemStats
		runtime.ReadMemStats(&now)
		if now.HeapReleased >= before.HeapReleased+100*mib {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("released %d MiB of the heap 10 s after dropping 128 MiB (before: %d MiB)", now.HeapReleased/mib, before.HeapReleased/mib)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
