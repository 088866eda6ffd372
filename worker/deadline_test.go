package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/worker"
)

// deadlineSoonLine is how the worker logs a DEADLINE_SOON (at Debug).
const deadlineSoonLine = `msg="worker: deadline soon"`

// TestDeadlineSoonWaitsForTheHandler holds a job (TTR 60s, no heartbeat)
// in one slot while the other slot handles a second job, on a fake clock
// that the worker, its pool and (on Reprieve) the server share. 59s on,
// the first job's context is cancelled with ErrTTR; when the other slot
// then reserves, the pool says DEADLINE_SOON for the first job: the slot
// touches nothing and waits for that job to be finished (the clock stands
// still, so a slot that reserved again at once would log DEADLINE_SOON
// again and again), then goes back to work. The other slot reserves only
// after the clock has moved, so no timer of a waiting reserve is armed
// while it moves.
func TestDeadlineSoonWaitsForTheHandler(t *testing.T) {
	for _, kind := range []string{"reprieve", "beanstalkd"} {
		t.Run(kind, func(t *testing.T) {
			clk := clock.NewFake(t0)
			addr := ""
			if kind == "reprieve" {
				addr = reprieve(t, "", clk)
			} else {
				addr = servertest.StartBeanstalkd(t).Addr
			}
			cancelled := make(chan error, 1)
			proceed, unblock := make(chan struct{}), make(chan struct{})
			handled := make(chan string, 3)
			r := start(t, worker.WithClock(worker.Config{Addrs: []string{addr}, MaxAttempts: 1}, clk), func(w *worker.Worker) {
				w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
					handled <- string(j.Body)
					switch string(j.Body) {
					case "slow":
						<-ctx.Done()
						cancelled <- context.Cause(ctx)
						<-proceed
						return context.Cause(ctx)
					case "blocker":
						<-unblock
					}
					return nil
				}, worker.TubeOptions{Concurrency: 2})
			})
			c := dial(t, addr)
			id := put(t, c, "jobs", "slow", time.Minute)
			if got := recv(t, handled, "the slow job"); got != "slow" {
				t.Fatalf("handled %q first", got)
			}
			put(t, c, "jobs", "blocker", time.Hour)
			if got := recv(t, handled, "the blocker"); got != "blocker" {
				t.Fatalf("handled %q second", got)
			}
			clk.Advance(59 * time.Second)
			if cause := recv(t, cancelled, "the handler's cancellation"); !errors.Is(cause, worker.ErrTTR) {
				t.Fatalf("handler cancelled by %v, want ErrTTR", cause)
			}
			close(unblock)
			poll.Until(t, "the other slot hears DEADLINE_SOON", func() bool {
				return strings.Contains(r.log.String(), deadlineSoonLine)
			})
			close(proceed)
			st := waitStats(t, c, id, "finished by the worker", func(st client.Stats) bool {
				return st != nil && (st["state"] == "buried" || st["state"] == "delayed")
			})
			if st["state"] != "buried" {
				t.Errorf("job %s, want buried (Reprieve: fail on a tube without policy; beanstalkd: MaxAttempts 1)", st["state"])
			}
			// The slot is free again: it takes the next job.
			put(t, c, "jobs", "next", time.Minute)
			if got := recv(t, handled, "the next job"); got != "next" {
				t.Fatalf("handled %q, want the next job", got)
			}
			r.stop()
			if n := strings.Count(r.log.String(), deadlineSoonLine); n != 1 {
				t.Errorf("DEADLINE_SOON logged %d times, want once:\n%s", n, r.log)
			}
			srv, err := c.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if srv["cmd-touch"] != "0" {
				t.Errorf("cmd-touch %s: a job without heartbeat was touched", srv["cmd-touch"])
			}
		})
	}
}

// TestDeadlineSoonTouchesAHeartbeatJob holds a job with a TTR of 1s and
// heartbeats: it is within DeadlineMargin of its end from the start, so
// the other slot's reserve says DEADLINE_SOON at once, and the slot
// answers with one touch (the heartbeat, every quarter second, has not
// come yet: the clock stands still) and then waits for the job instead of
// touching it again and again. Reprieve only: the server must run on the
// fake clock, or a 1s TTR would run out on a slow machine.
func TestDeadlineSoonTouchesAHeartbeatJob(t *testing.T) {
	clk := clock.NewFake(t0)
	addr := reprieve(t, "", clk)
	proceed := make(chan struct{})
	started := make(chan struct{}, 1)
	r := start(t, worker.WithClock(worker.Config{Addrs: []string{addr}}, clk), func(w *worker.Worker) {
		w.Handle("hb", func(ctx context.Context, j *worker.Job) error {
			started <- struct{}{}
			<-proceed
			return nil
		}, worker.TubeOptions{Concurrency: 2, Heartbeat: true})
	})
	c := dial(t, addr)
	id := put(t, c, "hb", "x", time.Second)
	recv(t, started, "the handler")
	poll.Until(t, "the job is touched", func() bool {
		st, err := c.Stats(context.Background())
		return err == nil && st["cmd-touch"] == "1"
	})
	close(proceed)
	waitStats(t, c, id, "deleted", gone)
	r.stop()
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st["cmd-touch"] != "1" || st["job-timeouts"] != "0" {
		t.Errorf("cmd-touch %s, job-timeouts %s: want one touch and no timeout", st["cmd-touch"], st["job-timeouts"])
	}
	if n := strings.Count(r.log.String(), deadlineSoonLine); n != 1 {
		t.Errorf("DEADLINE_SOON logged %d times, want once:\n%s", n, r.log)
	}
}
