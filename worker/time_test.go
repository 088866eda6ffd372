package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/worker"
)

// handlerEnd is what a slow handler saw when it returned.
type handlerEnd struct {
	err, cause error // ctx.Err() and context.Cause(ctx)
	slept      bool  // it ran its whole 5s
}

// slowHandler runs 5s unless its context ends first, and reports how it
// ended.
func slowHandler(ends chan<- handlerEnd) worker.Handler {
	return func(ctx context.Context, j *worker.Job) error {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			ends <- handlerEnd{slept: true}
			return nil
		case <-ctx.Done():
			ends <- handlerEnd{err: ctx.Err(), cause: context.Cause(ctx)}
			return context.Cause(ctx)
		}
	}
}

// TestHeartbeatKeepsJobAlive runs a 5s handler on a job with a 2s TTR:
// with heartbeats the worker touches it, the context stays alive, the job
// never times out and is deleted.
func TestHeartbeatKeepsJobAlive(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			ends := make(chan handlerEnd, 1)
			start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
				w.Handle("slow", slowHandler(ends), worker.TubeOptions{Heartbeat: true})
			})
			c := dial(t, addr)
			id := put(t, c, "slow", "x", 2*time.Second)
			if end := recv(t, ends, "end of the handler"); !end.slept {
				t.Fatalf("handler's context ended: %v (cause %v)", end.err, end.cause)
			}
			waitStats(t, c, id, "deleted", gone)
			st, err := c.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st["job-timeouts"] != "0" || st["cmd-touch"] == "0" {
				t.Errorf("job-timeouts %s, cmd-touch %s: want no timeout and some touches", st["job-timeouts"], st["cmd-touch"])
			}
		})
	}
}

// TestContextCancelledBeforeTTR runs the same handler without heartbeats:
// its context is cancelled with ErrTTR before the TTR ends, so its error
// reaches the server before the job times out.
func TestContextCancelledBeforeTTR(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			ends := make(chan handlerEnd, 1)
			start(t, worker.Config{Addrs: []string{addr}, MaxAttempts: 1}, func(w *worker.Worker) {
				w.Handle("slow", slowHandler(ends), worker.TubeOptions{})
			})
			c := dial(t, addr)
			id := put(t, c, "slow", "x", 2*time.Second)
			end := recv(t, ends, "end of the handler")
			if end.slept || !errors.Is(end.err, context.Canceled) || !errors.Is(end.cause, worker.ErrTTR) {
				t.Fatalf("handler ended %+v, want its context cancelled with ErrTTR", end)
			}
			st := waitStats(t, c, id, "buried", inState("buried"))
			if st["timeouts"] != "0" {
				t.Errorf("job timed out %s times", st["timeouts"])
			}
			if want := worker.ErrTTR.Error(); srv.name == "reprieve" && st["last-error"] != want {
				t.Errorf("last-error %q, want %q", st["last-error"], want)
			}
		})
	}
}
