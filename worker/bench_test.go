package worker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// before each timed part. See BenchmarkWorkerPaired for a ratio that
// survives a loaded machine.
func BenchmarkWorker(b *testing.B) {
	srv := servertest.Start(b, nil)
	for _, conc := range []int{1, 8, 64} {
		for _, way := range benchWays {
			b.Run(fmt.Sprintf("conc=%d/%s", conc, way.name), func(b *testing.B) {
				tube := fmt.Sprintf("%s%d", way.name, conc)
				if way.fill {
					fill(b, srv.Addr, tube, b.N)
				}
				b.ResetTimer()
				d := way.run(b, srv.Addr, tube, conc, b.N)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/d.Seconds(), "jobs/s")
			})
		}
	}
}

// BenchmarkWorkerPaired runs the three ways of BenchmarkWorker in
// batches of 2,000 jobs, one batch of each per round in rotating order,
// b.N rounds per concurrency, and reports the medians of their jobs/s
// and of each round's worker/client ratio: a batch of each way runs
// within a second of the others, so a load that comes and goes on a
// shared machine moves them together. It also reports the median CPU
// time (user and system, of the whole process: server, client and
// worker) per job of the client loop and of the worker, which other
// processes on the machine do not change, and their ratio.
func BenchmarkWorkerPaired(b *testing.B) {
	const batch = 2000
	srv := servertest.Start(b, nil)
	for _, conc := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			rates, cpu := make([][]float64, len(benchWays)), make([][]float64, len(benchWays))
			var ratio, cpuRatio []float64
			for i := 0; i < b.N; i++ {
				var round, roundCPU [3]float64
				for k := range benchWays {
					way := benchWays[(i+k)%len(benchWays)]
					w := (i + k) % len(benchWays)
					tube := fmt.Sprintf("paired-%s%d-%d", way.name, conc, i)
					if way.fill {
						fill(b, srv.Addr, tube, batch)
					}
					used := cpuTime()
					round[w] = batch / way.run(b, srv.Addr, tube, conc, batch).Seconds()
					roundCPU[w] = float64(cpuTime()-used) / float64(time.Microsecond) / batch
					rates[w] = append(rates[w], round[w])
					cpu[w] = append(cpu[w], roundCPU[w])
				}
				ratio = append(ratio, round[2]/round[1])
				cpuRatio = append(cpuRatio, roundCPU[1]/roundCPU[2])
			}
			for w, way := range benchWays {
				b.ReportMetric(median(rates[w]), "jobs/s-"+way.name)
			}
			b.ReportMetric(median(ratio), "worker/client")
			b.ReportMetric(median(cpu[1]), "cpu-µs/job-client")
			b.ReportMetric(median(cpu[2]), "cpu-µs/job-worker")
			b.ReportMetric(median(cpuRatio), "cpu-client/worker")
		})
	}
}

// benchWays are the ways of taking and deleting n jobs that the
// benchmarks compare: run returns how long it took.
var benchWays = []struct {
	name string
	fill bool // n jobs must be put into the tube before run
	run  func(b *testing.B, addr, tube string, conc, n int) time.Duration
}{
	{"bench", false, runBench},
	{"client", true, runClient},
	{"worker", true, runWorker},
}

// runBench runs `reprieve bench --workload reserve-delete` for n jobs
// with conc connections, and returns n over its jobs/s (it puts the jobs
// first, and times the reserves and deletes only).
func runBench(b *testing.B, addr, tube string, conc, n int) time.Duration {
	cfg := bench.DefaultConfig()
	cfg.Addr, cfg.Workload, cfg.Conns, cfg.Duration, cfg.Count = addr, bench.ReserveDelete, conc, 0, int64(max(n, conc))
	cfg.TubePrefix = tube
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(float64(n) / res.OpsPerSec * float64(time.Second))
}

// runClient reserves and deletes the jobs of tube on conc connections of
// their own until none is ready.
func runClient(b *testing.B, addr, tube string, conc, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { reserveDelete(b, addr, tube) })
	}
	wg.Wait()
	return time.Since(start)
}

// runWorker runs a worker with a no-op handler at concurrency conc on
// tube until it has handled n jobs.
func runWorker(b *testing.B, addr, tube string, conc, n int) time.Duration {
	w, err := worker.New(worker.Config{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	all := make(chan struct{})
	w.Handle(tube, func(ctx context.Context, j *worker.Job) error {
		if handled.Add(1) == int64(n) {
			close(all)
		}
		return nil
	}, worker.TubeOptions{Concurrency: conc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	<-all
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// median returns the middle value of v (which it sorts).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
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
