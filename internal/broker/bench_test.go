package broker

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

var benchBody = make([]byte, 64)

// benchBroker returns a broker with extra tubes besides "default", each
// holding one buried job so that it stays.
func benchBroker(b *testing.B, tubes int) *Broker {
	br := New(Config{Clock: clock.Real()})
	b.Cleanup(br.Close)
	s := br.Open()
	defer s.Close()
	for i := 0; i < tubes-1; i++ {
		s.Use(fmt.Sprintf("tube-%d", i))
		id, _ := s.Put(0, 0, time.Minute, benchBody)
		if _, err := s.ReserveJob(id); err != nil {
			b.Fatal(err)
		}
		if err := s.Bury(id, 0); err != nil {
			b.Fatal(err)
		}
	}
	return br
}

func BenchmarkPut(b *testing.B) {
	for _, tubes := range []int{1, 10000} {
		b.Run(fmt.Sprintf("tubes=%d", tubes), func(b *testing.B) {
			br := benchBroker(b, tubes)
			s := br.Open()
			defer s.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Put(100, 0, time.Minute, benchBody); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReserveDelete(b *testing.B) {
	for _, tubes := range []int{1, 10000} {
		b.Run(fmt.Sprintf("tubes=%d", tubes), func(b *testing.B) {
			br := benchBroker(b, tubes)
			s := br.Open()
			defer s.Close()
			for i := 0; i < b.N; i++ {
				if _, err := s.Put(100, 0, time.Minute, benchBody); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := s.Reserve(ctx, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutReserveDeleteParallel runs producer/worker sessions in
// parallel, one of each per goroutine, through one tube.
func BenchmarkPutReserveDeleteParallel(b *testing.B) {
	br := benchBroker(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := br.Open()
		defer s.Close()
		for pb.Next() {
			if _, err := s.Put(100, 0, time.Minute, benchBody); err != nil {
				b.Error(err)
				return
			}
			r, err := s.Reserve(ctx, -1)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.Delete(r.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryPerJob reports the heap bytes held per queued job with a
// 64-byte body (the body's own allocation included).
func BenchmarkMemoryPerJob(b *testing.B) {
	const n = 200000
	for i := 0; i < b.N; i++ {
		br := New(Config{Clock: clock.Real()})
		s := br.Open()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for k := 0; k < n; k++ {
			body := make([]byte, 64)
			if _, err := s.Put(100, 0, time.Minute, body); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/job")
		runtime.KeepAlive(br)
		s.Close()
		br.Close()
	}
}
