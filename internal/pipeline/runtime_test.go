package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
)

// sink records what reaches it; gate, when set, holds each Handle until
// the test sends on it.
type sink struct {
	mu   sync.Mutex // protects msgs
	msgs []*pipeline.Message
	gate chan struct{}
	got  chan struct{}
}

var (
	sinksMu sync.Mutex // protects sinks
	sinks   = map[string]*sink{}
)

func newSink(t *testing.T, key string, gated bool) *sink {
	s := &sink{got: make(chan struct{}, 1<<16)}
	if gated {
		s.gate = make(chan struct{})
	}
	sinksMu.Lock()
	sinks[key] = s
	sinksMu.Unlock()
	t.Cleanup(func() { sinksMu.Lock(); delete(sinks, key); sinksMu.Unlock() })
	return s
}

func (s *sink) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	s.got <- struct{}{}
	return nil
}

func (s *sink) wait(t *testing.T, n int) []*pipeline.Message {
	t.Helper()
	for range n {
		select {
		case <-s.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("sink: waited for %d messages", n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pipeline.Message(nil), s.msgs...)
}

type failer struct {
	env  *pipeline.Env
	mode string
}

func (f *failer) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	switch f.mode {
	case "panic":
		panic("boom in " + f.env.Name)
	case "error":
		return fmt.Errorf("cannot handle %s", m.ID)
	}
	return f.env.Emit(ctx, "outbox", m)
}

// source emits count messages whose OnDone results it records.
type source struct {
	env   *pipeline.Env
	count int
	mu    sync.Mutex // protects done
	done  map[string]error
	all   chan struct{}
}

var (
	sourcesMu sync.Mutex // protects sources
	sources   = map[string]*source{}
)

func (s *source) Run(ctx context.Context) error {
	for i := range s.count {
		m := pipeline.NewMessage(fmt.Sprintf("m%d", i), []byte(fmt.Sprint(i)))
		id := m.ID
		m.OnDone(func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.done[id] = err
			if len(s.done) == s.count {
				close(s.all)
			}
		})
		if err := s.env.Emit(ctx, "outbox", m); err != nil {
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

func init() {
	pipeline.Register(&pipeline.Kind{Name: "test.sink", In: []string{"inbox"},
		Args: []pipeline.Arg{{Name: "key", Type: pipeline.String, Required: true}},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			sinksMu.Lock()
			defer sinksMu.Unlock()
			return sinks[a.String("key")], nil
		}})
	pipeline.Register(&pipeline.Kind{Name: "test.fail", In: []string{"inbox"}, Out: []string{"outbox"},
		Args: []pipeline.Arg{{Name: "mode", Type: pipeline.String, Default: "pass"}},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &failer{env: env, mode: a.String("mode")}, nil
		}})
	pipeline.Register(&pipeline.Kind{Name: "test.source", Out: []string{"outbox"},
		Args: []pipeline.Arg{{Name: "count", Type: pipeline.Int, Default: 1}, {Name: "key", Type: pipeline.String}},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			s := &source{env: env, count: a.Int("count"), done: map[string]error{}, all: make(chan struct{})}
			sourcesMu.Lock()
			sources[a.String("key")] = s
			sourcesMu.Unlock()
			return s, nil
		}})
}

// start builds and runs a pipeline; stop cancels it and returns Run's error.
func start(t *testing.T, src string) (p *pipeline.Pipeline, stop func() error) {
	t.Helper()
	cfg, _, err := pipeline.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err = pipeline.New(cfg, pipeline.Options{DrainTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-errc })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return p, stop
}

func stats(p *pipeline.Pipeline, module, queue string) pipeline.QueueStats {
	for _, m := range p.Stats() {
		if m.Module != module {
			continue
		}
		for _, q := range m.Queues {
			if q.Queue == queue {
				return q
			}
		}
	}
	return pipeline.QueueStats{}
}

func moduleStats(p *pipeline.Pipeline, module string) pipeline.ModuleStats {
	for _, m := range p.Stats() {
		if m.Module == module {
			return m
		}
	}
	return pipeline.ModuleStats{}
}

// An error and then a panic further on build an annotated error chain; the
// failing modules contain no routing code.
func TestFailureRoutingBuildsErrorChain(t *testing.T) {
	out := newSink(t, t.Name(), false)
	p, stop := start(t, fmt.Sprintf(`
modules:
  src: {module: test.source, arguments: {count: 3, key: %[1]s}}
  first: {module: test.fail, arguments: {mode: error}}
  second: {module: test.fail, arguments: {mode: panic}}
  out: {module: test.sink, arguments: {key: %[1]s}}
routingtable:
  - src.outbox -> first.inbox
  - first.failed -> second.inbox
  - second.failed -> out.inbox
`, t.Name()))
	msgs := out.wait(t, 3)
	stop()
	for _, m := range msgs {
		if len(m.Errors) != 2 {
			t.Fatalf("%s: chain %+v, want 2 entries", m.ID, m.Errors)
		}
		e1, e2 := m.Errors[0], m.Errors[1]
		if e1.Module != "first" || e1.Error != "cannot handle "+m.ID || e1.Hop != 1 || e1.Attempt != 0 {
			t.Errorf("first failure = %+v", e1)
		}
		if e2.Module != "second" || e2.Error != "pipeline: module panicked: boom in second" || e2.Hop != 2 {
			t.Errorf("second failure = %+v", e2)
		}
		if m.Meta["fallback_error"] != "pipeline: module panicked: boom in second" {
			t.Errorf("fallback_error = %q", m.Meta["fallback_error"])
		}
		if m.Hops != 3 {
			t.Errorf("hops = %d, want 3", m.Hops)
		}
	}
	if s := moduleStats(p, "first"); s.Failed != 3 || s.Handled != 0 {
		t.Errorf("first stats = %+v", s)
	}
	if s := stats(p, "second", "failed"); s.In != 3 || s.Out != 3 {
		t.Errorf("second.failed = %+v", s)
	}
}

// A cycle is broken by the hop budget: the message reaches the dead-letter
// queue with the reason; without one it is dropped, counted and reported to
// the input as given up.
func TestHopBudgetBreaksCycles(t *testing.T) {
	dead := newSink(t, t.Name(), false)
	p, _ := start(t, fmt.Sprintf(`
hop_budget: 10
deadletter: dead.inbox
modules:
  src: {module: test.source, arguments: {count: 1, key: %[1]s}}
  funnel: {module: flow.funnel}
  loop: {module: test.fail, arguments: {mode: error}}
  dead: {module: test.sink, arguments: {key: %[1]s}}
routingtable:
  - src.outbox -> funnel.in
  - funnel.outbox -> loop.inbox
  - loop.failed -> funnel.again
`, t.Name()))
	m := dead.wait(t, 1)[0]
	last := m.LastError()
	want := "hop budget of 10 exhausted routing loop.failed -> funnel.again"
	if last == nil || last.Error != want || last.Module != "loop" {
		t.Fatalf("last error = %+v, want %q", last, want)
	}
	if got := moduleStats(p, "loop").Dead; got != 1 {
		t.Errorf("dead count = %d", got)
	}
	// five passes through the loop: 5 failures + the budget entry
	if len(m.Errors) != 6 {
		t.Errorf("chain has %d entries, want 6", len(m.Errors))
	}

	t.Run("without deadletter", func(t *testing.T) {
		p, _ := start(t, fmt.Sprintf(`
hop_budget: 4
modules:
  src: {module: test.source, arguments: {count: 1, key: %[1]s}}
  funnel: {module: flow.funnel}
  loop: {module: test.fail, arguments: {mode: error}}
routingtable:
  - src.outbox -> funnel.in
  - funnel.outbox -> loop.inbox
  - loop.failed -> funnel.again
`, "nodl"))
		sourcesMu.Lock()
		s := sources["nodl"]
		sourcesMu.Unlock()
		<-s.all
		err := s.done["m0"]
		if !errors.Is(err, pipeline.ErrGaveUp) || !strings.Contains(err.Error(), "hop budget of 4 exhausted") {
			t.Fatalf("done error = %v", err)
		}
		if moduleStats(p, "loop").Dead != 1 {
			t.Errorf("dead not counted")
		}
	})
}

// OnDone fires once, after every fanout copy has been delivered; a copy that
// fails into an unconnected failed queue makes it report the failure.
func TestOnDoneWaitsForEveryCopy(t *testing.T) {
	a := newSink(t, t.Name()+"a", true)
	key := t.Name()
	start(t, fmt.Sprintf(`
modules:
  src: {module: test.source, arguments: {count: 2, key: %[1]s}}
  fan: {module: flow.fanout}
  a: {module: test.sink, arguments: {key: %[1]sa}}
  bad: {module: test.fail, arguments: {mode: error}}
routingtable:
  - src.outbox -> fan.inbox
  - fan.x -> a.inbox
  - fan.y -> bad.inbox
`, key))
	sourcesMu.Lock()
	s := sources[key]
	sourcesMu.Unlock()
	select {
	case <-s.all:
		t.Fatal("done before the gated copy was delivered")
	case <-time.After(50 * time.Millisecond):
	}
	a.gate <- struct{}{}
	a.gate <- struct{}{}
	<-s.all
	for id, err := range s.done {
		if !errors.Is(err, pipeline.ErrGaveUp) || !strings.Contains(err.Error(), "bad: cannot handle "+id) {
			t.Errorf("%s: done(%v)", id, err)
		}
	}
}

// A slow output holds a fast generator: queues stay at their bound, nothing
// is dropped, and every message arrives once the output speeds up. The
// pipeline runs in a synctest bubble, so the test sees the chain once every
// goroutine of it is blocked: as full as a broken bound would let it get.
func TestBackpressureHoldsGenerator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink(t, t.Name(), true)
		p, _ := start(t, fmt.Sprintf(`
queue_size: 4
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 1000}}
  funnel: {module: flow.funnel}
  out: {module: test.sink, arguments: {key: %[1]s}}
routingtable:
  - gen.outbox -> funnel.in
  - funnel.outbox -> out.inbox
`, t.Name()))
		// The chain is full: out holds one message in Handle, its inbox 4,
		// the funnel one in Handle (blocked in Emit) and its queue 4.
		synctest.Wait()
		if generated := stats(p, "gen", "outbox").Out; generated != 10 {
			t.Fatalf("generator got %d messages accepted while the output was stuck; want 10 (4+1+4+1)", generated)
		}
		if a, b := stats(p, "funnel", "in").Size, stats(p, "out", "inbox").Size; a != 4 || b != 4 {
			t.Fatalf("queue sizes %d and %d, want 4 and 4", a, b)
		}
		for range 1000 {
			out.gate <- struct{}{}
		}
		msgs := out.wait(t, 1000)
		seen := map[string]bool{}
		for _, m := range msgs {
			seen[m.ID] = true
		}
		if len(seen) != 1000 {
			t.Fatalf("%d distinct messages arrived, want 1000", len(seen))
		}
		for _, q := range []struct{ m, q string }{{"funnel", "in"}, {"out", "inbox"}} {
			if s := stats(p, q.m, q.q); s.Dropped != 0 || s.In != 1000 {
				t.Errorf("%s.%s = %+v", q.m, q.q, s)
			}
		}
	})
}

// A module configured to drop counts what it drops and the rest arrive.
func TestOnFullDropCounts(t *testing.T) {
	out := newSink(t, t.Name(), true)
	p, stop := start(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 50}}
  out: {module: test.sink, arguments: {key: %[1]s}, queue_size: 5, on_full: drop}
routingtable:
  - gen.outbox -> out.inbox
`, t.Name()))
	poll.Until(t, "gen.outbox In reaches 50", func() bool { return stats(p, "gen", "outbox").In >= 50 })
	s := stats(p, "out", "inbox")
	// one message is inside Handle (gated) or still queued: 5 or 6 accepted
	if s.In+s.Dropped != 50 || s.In < 5 || s.In > 6 {
		t.Fatalf("out.inbox = %+v", s)
	}
	close(out.gate)
	out.wait(t, int(s.In))
	stop()
}

// Shutdown drains in-memory queues into the outputs before returning.
func TestShutdownDrainsQueues(t *testing.T) {
	out := newSink(t, t.Name(), true)
	p, stop := start(t, fmt.Sprintf(`
queue_size: 50
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 30}}
  out: {module: test.sink, arguments: {key: %[1]s}}
routingtable:
  - gen.outbox -> out.inbox
`, t.Name()))
	poll.Until(t, "gen.outbox In reaches 30", func() bool { return stats(p, "gen", "outbox").In >= 30 })
	done := make(chan error)
	go func() { done <- stop() }()
	close(out.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(out.wait(t, 30)); n != 30 {
		t.Fatalf("%d delivered", n)
	}
	if p.InFlight() != 0 {
		t.Fatalf("in flight after shutdown: %d", p.InFlight())
	}
}

// When the outputs cannot drain in time, shutdown reports each message
// still queued instead of losing it silently.
func TestShutdownReportsUndelivered(t *testing.T) {
	newSink(t, t.Name(), true) // never opened
	cfg, _, err := pipeline.Parse("test.yaml", []byte(fmt.Sprintf(`
queue_size: 10
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 5, id_prefix: u}}
  out: {module: test.sink, arguments: {key: %s}}
routingtable:
  - gen.outbox -> out.inbox
`, t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(cfg, pipeline.Options{DrainTimeout: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- p.Run(ctx) }()
	poll.Until(t, "gen.outbox Out reaches 5", func() bool { return stats(p, "gen", "outbox").Out >= 5 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ids, queues := p.Undelivered()
	// u-1 was inside the sink's Handle when the drain gave up; u-2..u-5 queued.
	if strings.Join(ids, ",") != "u-2,u-3,u-4,u-5" || len(queues) != 4 || queues[0].String() != "out.inbox" {
		t.Fatalf("undelivered %v in %v", ids, queues)
	}
}

// workers: N handles up to N messages of one queue at once, and no more:
// in a synctest bubble the test looks once every goroutine is blocked.
func TestWorkersHandleInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink(t, t.Name(), true)
		p, _ := start(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 10}}
  out: {module: test.sink, arguments: {key: %s}, workers: 4}
routingtable:
  - gen.outbox -> out.inbox
`, t.Name()))
		// Four handlers block in the gate at once: four messages taken
		// from the queue, none finished.
		synctest.Wait()
		if n := stats(p, "out", "inbox").Out; n != 4 {
			t.Fatalf("%d messages taken with 4 workers blocked", n)
		}
		close(out.gate)
		out.wait(t, 10)
	})
}

func TestWriteStats(t *testing.T) {
	var b strings.Builder
	pipeline.WriteStats(&b, []pipeline.ModuleStats{{Module: "out", Kind: "output.tcp", Handled: 3, Failed: 2, Queues: []pipeline.QueueStats{
		{Queue: "inbox", Input: true, In: 5, Out: 5, Size: 0}, {Queue: "failed", In: 2, Out: 2}}}})
	want := "out (output.tcp): handled=3 failed=2 dead=0 restarts=0\n" +
		"  in  inbox        in=5 out=5 dropped=0 size=0\n" +
		"  out failed       in=2 out=2 dropped=0 size=0\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
