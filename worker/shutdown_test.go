package worker_test

import (
	"context"
	"fmt"
	"github.com/reprieve/reprieve/internal/servertest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/worker"
)

// tubeStats reads stats-tube of tube.
func tubeStats(t *testing.T, c *client.Conn, tube string) client.Stats {
	t.Helper()
	st, err := c.StatsTube(context.Background(), tube)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestGracefulShutdown stops a worker whose two handlers are busy: it
// takes no new job, lets a handler that finishes within the shutdown
// timeout finish (its job is deleted), then cancels the other and
// releases its job, leaving nothing reserved.
func TestGracefulShutdown(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			c := dial(t, addr)
			for i := range 5 {
				put(t, c, "jobs", fmt.Sprint(i), time.Hour)
			}
			started := make(chan *worker.Job, 5)
			finish := make(chan struct{})
			var cancelled atomic.Int32
			r := start(t, worker.Config{Addrs: []string{addr}, ShutdownTimeout: 300 * time.Millisecond}, func(w *worker.Worker) {
				w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
					started <- j
					if j.Body[0] == '0' { // the quick one
						<-finish
						return nil
					}
					<-ctx.Done() // the stubborn one
					cancelled.Add(1)
					return ctx.Err()
				}, worker.TubeOptions{Concurrency: 2})
			})
			a, b := recv(t, started, "first job"), recv(t, started, "second job")
			if string(a.Body)+string(b.Body) != "01" && string(a.Body)+string(b.Body) != "10" {
				t.Fatalf("started %q and %q, want jobs 0 and 1", a.Body, b.Body)
			}
			r.cancel()
			close(finish)
			r.stop()
			if len(started) != 0 || cancelled.Load() != 1 {
				t.Fatalf("%d more handlers started, %d cancelled; want none and one", len(started), cancelled.Load())
			}
			// The server hands back what a closed connection held a moment
			// after the close.
			var st client.Stats
			waitFor(t, "no job reserved", func() bool {
				st = tubeStats(t, c, "jobs")
				return st["current-jobs-reserved"] == "0"
			})
			if st["current-jobs-ready"] != "4" || st["cmd-delete"] != "1" {
				t.Errorf("stats-tube: %s ready, %s deleted; want 4 and 1", st["current-jobs-ready"], st["cmd-delete"])
			}
		})
	}
}

// TestConcurrencyNeverExceeded handles 40 jobs with Concurrency 3 and
// counts the handlers running at once, and the jobs the server has
// reserved, from inside every handler.
func TestConcurrencyNeverExceeded(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			c := dial(t, addr)
			const n, conc = 40, 3
			for i := range n {
				put(t, c, "jobs", fmt.Sprint(i), time.Hour)
			}
			var mu sync.Mutex // protects now, most, reserved, done
			var now, most, reserved int
			done := map[string]bool{}
			all := make(chan struct{})
			full := make(chan struct{}) // closed when conc handlers run at once
			var fullOnce sync.Once
			start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
				w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
					mu.Lock()
					now++
					most = max(most, now)
					if now == conc {
						fullOnce.Do(func() { close(full) })
					}
					mu.Unlock()
					select { // the first handlers wait until all slots are taken
					case <-full:
					case <-time.After(10 * time.Second):
					}
					st, err := c.StatsTube(ctx, "jobs")
					if err != nil {
						return err
					}
					r, _ := st.Int("current-jobs-reserved")
					mu.Lock()
					defer mu.Unlock()
					now--
					reserved = max(reserved, int(r))
					done[string(j.Body)] = true
					if len(done) == n {
						close(all)
					}
					return nil
				}, worker.TubeOptions{Concurrency: conc})
			})
			recv(t, all, "all jobs handled")
			mu.Lock()
			defer mu.Unlock()
			if most != conc || reserved > conc {
				t.Errorf("at most %d handlers ran at once and the server had %d jobs reserved; want %d and at most %d", most, reserved, conc, conc)
			}
		})
	}
}

// TestPoolServerKilled runs a worker over two beanstalkd servers and
// SIGKILLs one mid-run: the jobs of the other keep flowing, and once the
// killed one is back (its log kept its jobs) the worker takes its jobs too.
func TestPoolServerKilled(t *testing.T) {
	a, b := servertest.StartDurableBeanstalkd(t), servertest.StartDurableBeanstalkd(t)
	ca, cb := dial(t, a.Addr), dial(t, b.Addr)
	const per = 20
	for i := range per {
		put(t, ca, "jobs", fmt.Sprintf("a%d", i), time.Hour)
		put(t, cb, "jobs", fmt.Sprintf("b%d", i), time.Hour)
	}
	var mu sync.Mutex // protects handled
	handled := map[string]bool{}
	count := func(prefix byte) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for k := range handled {
			if k[0] == prefix {
				n++
			}
		}
		return n
	}
	gate := make(chan struct{}) // holds the handlers until a is killed
	var gateOnce sync.Once
	start(t, worker.Config{Addrs: []string{a.Addr, b.Addr}}, func(w *worker.Worker) {
		w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
			mu.Lock()
			handled[string(j.Body)] = true
			n := len(handled)
			mu.Unlock()
			if n >= 4 {
				<-gate
			}
			return nil
		}, worker.TubeOptions{Concurrency: 4})
	})
	waitFor(t, "4 jobs handled", func() bool { return count('a')+count('b') >= 4 })
	a.Kill()
	gateOnce.Do(func() { close(gate) })
	for i := range per {
		put(t, cb, "jobs", fmt.Sprintf("b%d", per+i), time.Hour)
	}
	waitFor(t, "every job of b handled while a is down", func() bool { return count('b') == 2*per })
	a.Restart()
	waitFor(t, "every job of a handled after its restart", func() bool { return count('a') == per })
}

// waitFor polls cond every 5ms for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
