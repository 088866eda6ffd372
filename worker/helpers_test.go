package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/worker"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)

// reprieve starts an in-process Reprieve server with policies from YAML
// (none if empty) on clk (the real clock if nil).
func reprieve(t *testing.T, policies string, clk clock.Clock) string {
	t.Helper()
	var set *policy.Set
	if policies != "" {
		var err error
		if set, err = policy.Parse("test.yaml", []byte(policies)); err != nil {
			t.Fatalf("policy: %v", err)
		}
	}
	return servertest.Start(t, &servertest.Options{Broker: broker.Config{Clock: clk, Policies: set}}).Addr
}

// servers names the two kinds of server the shared tests run against.
var servers = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"reprieve", func(t *testing.T) string { return reprieve(t, "", nil) }},
	{"beanstalkd", func(t *testing.T) string { return servertest.StartBeanstalkd(t).Addr }},
}

// running is a worker started by start.
type running struct {
	log    *servertest.LogBuffer
	cancel func() // cancels Run's context
	stop   func() // cancels Run's context and waits for Run to return
}

// start runs a worker on cfg (its Logger set to a buffer) with handlers
// registered by reg; the test's cleanup stops it.
func start(t *testing.T, cfg worker.Config, reg func(w *worker.Worker)) *running {
	t.Helper()
	logs := &servertest.LogBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	r := &running{log: logs, cancel: cancel}
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30s after its context ended")
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// dial opens a client connection closed at cleanup.
func dial(t *testing.T, addr string) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// put puts body into tube with TTR ttr and returns its id.
func put(t *testing.T, c *client.Conn, tube, body string, ttr time.Duration) uint64 {
	t.Helper()
	id, err := c.PutIn(context.Background(), tube, []byte(body), 100, 0, ttr)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitStats polls stats-job of id until ok accepts it (a missing job is
// passed as nil), failing after 10s with what it last saw.
func waitStats(t *testing.T, c *client.Conn, id uint64, what string, ok func(client.Stats) bool) client.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.StatsJob(context.Background(), id)
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatalf("stats-job %d: %v", id, err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: not %s after 10s; stats-job: %v", id, what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inState is a waitStats condition: the job is in state.
func inState(state string) func(client.Stats) bool {
	return func(s client.Stats) bool { return s != nil && s["state"] == state }
}

// gone is a waitStats condition: the job no longer exists.
func gone(s client.Stats) bool { return s == nil }

// recv takes the next value of ch, failing after 10s.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10s", what)
	}
	var zero T
	return zero
}
