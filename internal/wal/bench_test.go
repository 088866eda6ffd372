package wal

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// BenchmarkAppend measures put+Wait of 64-byte jobs under each fsync
// policy from 1, 8 and 64 goroutines, and reports fsyncs per put (group
// commit makes it fall as concurrency grows).
func BenchmarkAppend(b *testing.B) {
	for _, p := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		for _, par := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%v/conns=%d", p, par), func(b *testing.B) {
				o := Options{Dir: b.TempDir(), Fsync: p, Logger: quiet}
				l, _, err := Open(o)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				var next atomic.Uint64
				body := make([]byte, 64)
				before := l.fsyncs.Load()
				put := func() bool {
					if err := putWait(l, &next, body); err != nil {
						b.Error(err)
						return false
					}
					return true
				}
				b.ReportAllocs()
				b.ResetTimer()
				if par == 1 {
					// RunParallel runs at least GOMAXPROCS goroutines: one
					// committer is a plain loop.
					for i := 0; i < b.N && put(); i++ {
					}
				} else {
					b.SetParallelism(par / 2) // GOMAXPROCS is 2 here
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() && put() {
						}
					})
				}
				b.StopTimer()
				b.ReportMetric(float64(l.fsyncs.Load()-before)/float64(b.N), "fsyncs/put")
			})
		}
	}
}

// putWait puts a job with the next id and body, and waits for its commit.
func putWait(l *Log, next *atomic.Uint64, body []byte) error {
	c, err := l.Put(&job.Job{ID: job.ID(next.Add(1)), Tube: "default", Body: body, State: job.Ready, Created: t0})
	if err != nil {
		return err
	}
	return c.Wait()
}

// BenchmarkRecover measures Open on a directory of 100,000 live jobs of
// 64 bytes (REPRIEVE_RECOVER_JOBS sets another count).
func BenchmarkRecover(b *testing.B) {
	n := 100000
	if s := os.Getenv("REPRIEVE_RECOVER_JOBS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	dir := b.TempDir()
	o := Options{Dir: dir, Fsync: FsyncNever, Logger: quiet}
	l, _, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 64)
	for id := job.ID(1); id <= job.ID(n); id++ {
		if _, err := l.Put(&job.Job{ID: id, Tube: "default", Body: body, State: job.Ready, Created: t0}); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	b.ResetTimer()
	for range b.N {
		l, rec, err := Open(o)
		if err != nil {
			b.Fatal(err)
		}
		if len(rec.Jobs) != n {
			b.Fatalf("%d jobs", len(rec.Jobs))
		}
		l.Close()
	}
}

// BenchmarkCommitLatency measures put+Wait of 64-byte jobs from 8
// goroutines under the interval and never policies and reports the 99th
// and 99.9th percentile latencies: the interval fsync must not show in
// them (commits never wait for it).
func BenchmarkCommitLatency(b *testing.B) {
	for _, p := range []FsyncPolicy{FsyncInterval, FsyncNever} {
		b.Run(p.String(), func(b *testing.B) {
			o := Options{Dir: b.TempDir(), Fsync: p, Logger: quiet}
			l, _, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var next atomic.Uint64
			body := make([]byte, 64)
			var mu sync.Mutex // protects lat
			var lat []time.Duration
			b.SetParallelism(4) // 8 goroutines with GOMAXPROCS 2
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					if err := putWait(l, &next, body); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
			}
		})
	}
}

// BenchmarkDiskFloor is what BenchmarkAppend's always/conns=1 costs
// without the log: a segment made as the log makes it, and one pwrite of
// a 104-byte record (a framed 64-byte put) followed by one fsync per
// operation. Run both in one invocation, alternating (-count), and
// compare: the difference is the log's own cost per commit.
func BenchmarkDiskFloor(b *testing.B) {
	s, err := createSegment(osFS{}, b.TempDir(), hot, 1, DefaultSegmentSize)
	if err != nil {
		b.Fatal(err)
	}
	defer s.f.Close()
	rec := make([]byte, 104)
	off := int64(segmentHeaderSize)
	b.ResetTimer()
	for range b.N {
		if off+int64(len(rec)) > s.size {
			off = segmentHeaderSize
		}
		if _, err := s.f.WriteAt(rec, off); err != nil {
			b.Fatal(err)
		}
		if err := s.f.Sync(); err != nil {
			b.Fatal(err)
		}
		off += int64(len(rec))
	}
}
