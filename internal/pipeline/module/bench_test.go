package module

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
)

// counter counts messages and closes done at target.
type counter struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

var benchCounter atomic.Pointer[counter]

func (c *counter) Handle(context.Context, string, *pipeline.Message) error {
	if c.n.Add(1) == c.target {
		close(c.done)
	}
	return nil
}

func init() {
	pipeline.Register(&pipeline.Kind{Name: "test.count", In: []string{"inbox"},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) { return benchCounter.Load(), nil }})
}

func benchPipeline(b *testing.B, src string) {
	c := &counter{target: int64(b.N), done: make(chan struct{})}
	benchCounter.Store(c)
	cfg, _, err := pipeline.Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(cfg, pipeline.Options{Clock: clock.Real(), Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { errc <- p.Run(ctx) }()
	<-c.done
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkChain5 pushes messages through five in-memory modules:
// generator -> funnel -> roundrobin -> funnel -> counter.
func BenchmarkChain5(b *testing.B) {
	benchPipeline(b, fmt.Sprintf(`
queue_size: 1000
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: %d}}
  f1: {module: flow.funnel}
  rr: {module: flow.roundrobin}
  f2: {module: flow.funnel}
  count: {module: test.count}
routingtable:
  - gen.outbox -> f1.in
  - f1.outbox -> rr.inbox
  - rr.one -> f2.in
  - f2.outbox -> count.inbox
`, b.N))
}

// BenchmarkDiskBuffer writes every message through output.disk (batches of
// 1000, fsync) and reads it back with input.disk.
func BenchmarkDiskBuffer(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "buf")
	benchPipeline(b, fmt.Sprintf(`
queue_size: 1000
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: %d}}
  diskout: {module: output.disk, arguments: {directory: %s, batch: 1000, interval: 0.05}}
  diskin: {module: input.disk, arguments: {directory: %s, poll_interval: 0.01}}
  count: {module: test.count}
routingtable:
  - gen.outbox -> diskout.inbox
  - diskin.outbox -> count.inbox
`, b.N, dir, dir))
}
