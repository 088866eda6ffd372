package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/bench"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/worker"
)

// BenchmarkWorker measures jobs/s through a worker with a no-op handler
// at concurrency 1, 8 and 64, next to, in the same run and on the same
// in-process server, `reprieve bench --workload reserve-delete` with as
// many connections (bench) and the same loop written with the client
// package (client: reserve-with-timeout 0, delete). b.N jobs are put
// before each timed part.
func BenchmarkWorker(b *testing.B) {
	srv := servertest.Start(b, nil)
	for _, conc := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("conc=%d/bench", conc), func(b *testing.B) {
			cfg := bench.DefaultConfig()
			cfg.Addr, cfg.Workload, cfg.Conns, cfg.Duration, cfg.Count = srv.Addr, bench.ReserveDelete, conc, 0, int64(max(b.N, conc))
			cfg.TubePrefix = fmt.Sprintf("bench%d", conc)
			res, err := bench.Run(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.OpsPerSec, "jobs/s")
		})
		b.Run(fmt.Sprintf("conc=%d/client", conc), func(b *testing.B) {
			tube := fmt.Sprintf("client%d", conc)
			fill(b, srv.Addr, tube, b.N)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range conc {
				wg.Go(func() { reserveDelete(b, srv.Addr, tube) })
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
		})
		b.Run(fmt.Sprintf("conc=%d/worker", conc), func(b *testing.B) {
			tube := fmt.Sprintf("worker%d", conc)
			fill(b, srv.Addr, tube, b.N)
			w, err := worker.New(worker.Config{Addrs: []string{srv.Addr}})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			all := make(chan struct{})
			w.Handle(tube, func(ctx context.Context, j *worker.Job) error {
				if n.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			}, worker.TubeOptions{Concurrency: conc})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			b.ResetTimer()
			start := time.Now()
			go func() { done <- w.Run(ctx) }()
			<-all
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}

// fill puts n jobs into tube, from 8 goroutines sharing one pipelined
// connection.
func fill(b *testing.B, addr, tube string, n int) {
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := c.PutIn(context.Background(), tube, []byte("x"), 0, 0, time.Minute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// reserveDelete reserves and deletes jobs of tube until none is ready.
func reserveDelete(b *testing.B, addr, tube string) {
	ctx := context.Background()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	if _, err := c.Watch(ctx, tube); err != nil {
		b.Error(err)
		return
	}
	for {
		j, err := c.ReserveWithTimeout(ctx, 0)
		if errors.Is(err, client.ErrTimedOut) {
			return
		}
		if err != nil {
			b.Error(err)
			return
		}
		if err := c.Delete(ctx, j.ID); err != nil {
			b.Error(err)
			return
		}
	}
}
