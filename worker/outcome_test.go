package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/worker"
)

// TestErrorRetriedOnScheduleThenBuried fails a job on every attempt on a
// tube whose policy retries after 10s, 20s and gives up after 3 failures:
// the job comes back on the fake clock's schedule with its attempt number
// and history, and is buried with the last error.
func TestErrorRetriedOnScheduleThenBuried(t *testing.T) {
	fc := clock.NewFake(t0)
	addr := reprieve(t, "tubes:\n  mail:\n    retry: {initial: 10s, factor: 2, jitter: 0, max-attempts: 3, max-age: 0}\n", fc)
	seen := make(chan *worker.Job, 3)
	r := start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
		w.Handle("mail", func(ctx context.Context, j *worker.Job) error {
			seen <- j
			return fmt.Errorf("smtp timeout %d", j.Attempt)
		}, worker.TubeOptions{})
	})
	c := dial(t, addr)
	id := put(t, c, "mail", "to: ada", time.Minute)

	for _, step := range []struct {
		attempt int
		delay   time.Duration // until the next attempt
	}{{1, 10 * time.Second}, {2, 20 * time.Second}} {
		j := recv(t, seen, fmt.Sprintf("attempt %d", step.attempt))
		if j.Attempt != step.attempt || j.ID != id || j.Tube != "mail" || string(j.Body) != "to: ada" || j.Server != addr {
			t.Fatalf("job = %+v, want attempt %d of job %d in mail", j, step.attempt, id)
		}
		if j.History.Attempts != step.attempt-1 {
			t.Errorf("attempt %d: history counts %d failures", step.attempt, j.History.Attempts)
		}
		if step.attempt == 2 && (j.History.FirstError != "smtp timeout 1" || j.History.LastError != "smtp timeout 1") {
			t.Errorf("attempt 2: history %+v", j.History)
		}
		st := waitStats(t, c, id, "delayed", inState("delayed"))
		if st["delay"] != fmt.Sprint(int(step.delay.Seconds())) || st["failures"] != fmt.Sprint(step.attempt) {
			t.Errorf("after attempt %d: delay %s failures %s, want %v and %d", step.attempt, st["delay"], st["failures"], step.delay, step.attempt)
		}
		fc.Advance(step.delay - time.Second)
		select {
		case j := <-seen:
			t.Fatalf("attempt %d came a second early", j.Attempt)
		default:
		}
		fc.Advance(time.Second)
	}
	if j := recv(t, seen, "attempt 3"); j.Attempt != 3 || j.History.LastError != "smtp timeout 2" {
		t.Fatalf("third try: %+v", j)
	}
	st := waitStats(t, c, id, "buried", inState("buried"))
	want := map[string]string{"failures": "3", "first-error": "smtp timeout 1", "last-error": "smtp timeout 3", "gave-up": "buried", "pri": "100"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats-job %s = %q, want %q", k, st[k], v)
		}
	}
	r.stop()
	if log := r.log.String(); !strings.Contains(log, "job failed; gave up after 3 attempts; buried") || !strings.Contains(log, "smtp timeout 3") {
		t.Errorf("give-up not logged:\n%s", log)
	}
}

// TestBeanstalkdOwnScheduleThenBuried is the same story on a plain
// beanstalkd, which has no fail: the worker releases with its own backoff
// and buries after MaxAttempts, logging the error.
func TestBeanstalkdOwnScheduleThenBuried(t *testing.T) {
	addr := servertest.StartBeanstalkd(t).Addr
	seen := make(chan *worker.Job, 3)
	r := start(t, worker.Config{Addrs: []string{addr}, MaxAttempts: 3, Backoff: func(n int) time.Duration { return time.Duration(n) * 100 * time.Second }},
		func(w *worker.Worker) {
			w.Handle("mail", func(ctx context.Context, j *worker.Job) error {
				seen <- j
				return fmt.Errorf("smtp timeout %d", j.Attempt)
			}, worker.TubeOptions{})
		})
	c := dial(t, addr)
	id := put(t, c, "mail", "to: ada", time.Minute)
	for attempt := 1; attempt <= 2; attempt++ {
		if j := recv(t, seen, fmt.Sprintf("attempt %d", attempt)); j.Attempt != attempt || j.History != (client.FailureHistory{}) {
			t.Fatalf("job = %+v, want attempt %d and no history", j, attempt)
		}
		st := waitStats(t, c, id, "delayed", inState("delayed"))
		if want := fmt.Sprint(attempt * 100); st["delay"] != want || st["pri"] != "100" {
			t.Fatalf("after attempt %d: delay %s pri %s, want %s and 100", attempt, st["delay"], st["pri"], want)
		}
		if err := c.KickJob(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if j := recv(t, seen, "attempt 3"); j.Attempt != 3 {
		t.Fatalf("third try is attempt %d", j.Attempt)
	}
	waitStats(t, c, id, "buried", inState("buried"))
	r.stop()
	if log := r.log.String(); !strings.Contains(log, "job failed; buried") || !strings.Contains(log, "smtp timeout 3") {
		t.Errorf("burial and error not logged:\n%s", log)
	}
}

// TestPanic turns a handler's panic into a failure carrying the panic
// value and the top of the stack, and goes on with the next job.
func TestPanic(t *testing.T) {
	addr := reprieve(t, "", nil)
	r := start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
		w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
			if string(j.Body) == "bad" {
				explode(j)
			}
			return nil
		}, worker.TubeOptions{})
	})
	c := dial(t, addr)
	bad := put(t, c, "jobs", "bad", time.Minute)
	good := put(t, c, "jobs", "good", time.Minute)
	st := waitStats(t, c, bad, "buried", inState("buried"))
	last := st["last-error"]
	want := fmt.Sprintf("panic: cannot handle job %d\ngithub.com/reprieve/reprieve/worker_test.explode\n\t", bad)
	if !strings.HasPrefix(last, want) || !strings.Contains(last, "outcome_test.go:") || strings.Contains(last, "worker.call") {
		t.Errorf("last-error = %q, want the panic value then explode's frame", last)
	}
	waitStats(t, c, good, "deleted", gone)
	_ = r
}

// explode panics; its name is looked for in the stack.
func explode(j *worker.Job) {
	panic(fmt.Sprintf("cannot handle job %d", j.ID))
}

// TestPermanentGivesUpAtOnce: a Permanent error skips the retries of the
// tube's schedule on Reprieve, and buries at once on beanstalkd.
func TestPermanentGivesUpAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
		want map[string]string
	}{
		{"reprieve", func(t *testing.T) string {
			return reprieve(t, "tubes:\n  jobs:\n    retry: {initial: 10s, max-attempts: 50}\n    give-up: {action: dead-letter, tube: dead}\n", nil)
		}, map[string]string{"state": "buried", "tube": "dead", "failures": "1", "last-error": "bad input", "gave-up": "dead-letter dead"}},
		{"beanstalkd", func(t *testing.T) string { return servertest.StartBeanstalkd(t).Addr },
			map[string]string{"state": "buried", "tube": "jobs", "reserves": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			tries := make(chan int, 10)
			start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
				w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
					tries <- j.Attempt
					return worker.Permanent(errors.New("bad input"))
				}, worker.TubeOptions{})
			})
			c := dial(t, addr)
			id := put(t, c, "jobs", "x", time.Minute)
			st := waitStats(t, c, id, "buried", inState("buried"))
			for k, v := range tc.want {
				if st[k] != v {
					t.Errorf("stats-job %s = %q, want %q", k, st[k], v)
				}
			}
			if n := len(tries); n != 1 {
				t.Errorf("handler ran %d times, want once", n)
			}
		})
	}
}

// TestRetryAfter releases the job with the asked delay; on Reprieve that
// is no failure, so the next try is attempt 1 still.
func TestRetryAfter(t *testing.T) {
	fc := clock.NewFake(t0)
	addr := reprieve(t, "tubes:\n  jobs:\n    retry: {initial: 10s, max-attempts: 5}\n", fc)
	tries := make(chan *worker.Job, 2)
	var n atomic.Int32
	start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
		w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
			tries <- j
			if n.Add(1) == 1 {
				return worker.RetryAfter(errors.New("rate limited"), 30*time.Second)
			}
			return nil
		}, worker.TubeOptions{})
	})
	c := dial(t, addr)
	id := put(t, c, "jobs", "x", time.Minute)
	recv(t, tries, "first try")
	st := waitStats(t, c, id, "delayed", inState("delayed"))
	if st["delay"] != "30" || st["releases"] != "1" || st["failures"] != "0" || st["pri"] != "100" {
		t.Errorf("after RetryAfter: %v, want delay 30, releases 1, failures 0, pri 100", st)
	}
	fc.Advance(30 * time.Second)
	if j := recv(t, tries, "second try"); j.Attempt != 1 || j.ID != id {
		t.Errorf("second try: %+v, want attempt 1 of job %d", j, id)
	}
	waitStats(t, c, id, "deleted", gone)
}
