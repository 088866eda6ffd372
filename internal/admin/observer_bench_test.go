package admin_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
)

// BenchmarkObserverReserveDelete is the engine's reserve+delete (one
// session, jobs put beforehand) without an observer ("off", the server
// without --admin-listen) and with the admin interface's ("on"): the
// difference is what the observer costs inside the engine's lock.
// cpu-ns/op is the process's CPU time per reserve+delete.
// docs/performance.md gives the figures and the command.
func BenchmarkObserverReserveDelete(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run("observer="+mode, func(b *testing.B) {
			cfg := broker.Config{Clock: clock.Real()}
			if mode == "on" {
				cfg.Observer = admin.NewObserver(0)
			}
			br := broker.New(cfg)
			b.Cleanup(br.Close)
			s := br.Open()
			defer s.Close()
			body := make([]byte, 64)
			for i := 0; i < b.N; i++ {
				if _, err := s.Put(100, 0, time.Minute, body); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				r, err := s.Reserve(ctx, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(r.ID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the process's user and system CPU time: on a loaded
// machine it tells the work done apart from the time spent waiting for a
// core, which ns/op counts too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkObserverCalls is the observer's own work per reserve+delete:
// a Reserved and a Finished of one tube among 100 live ones
// (the engine holds each tube's TubeObserver: no lookup by name).
func BenchmarkObserverCalls(b *testing.B) {
	o := admin.NewObserver(0)
	var tube broker.TubeObserver
	for i := 0; i < 100; i++ {
		if t := o.Tube("tube-" + strconv.Itoa(i)); i == 42 {
			tube = t
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tube.Reserved(time.Millisecond)
		tube.Finished("deleted", 20*time.Millisecond)
	}
}
