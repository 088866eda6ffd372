package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/reprieve/reprieve/client"
)

// ErrTTR is the cause (context.Cause) of a handler's context cancelled
// because the job's TTR is about to run out.
var ErrTTR = errors.New("worker: the job's TTR is running out")

// finishTimeout bounds each command that finishes a job (delete, fail,
// release, bury), whatever the contexts say.
const finishTimeout = 10 * time.Second

// run is one job whose handler runs.
type run struct {
	t    tube
	h    *client.Handle
	job  *Job // &j, the handler's
	j    Job
	done chan struct{} // closed when the job is finished (or left to the shutdown's release)

	mu      sync.Mutex // protects settled
	settled bool       // the job's fate is decided (by the handler's result or the shutdown)
}

// settle claims the right to decide the job's fate; only the first call
// gets it.
func (r *run) settle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled {
		return false
	}
	r.settled = true
	return true
}

// process runs the handler of s's tube on the job of h and finishes the
// job by what it returned. sctx is the slot's context, which ends when the
// shutdown timeout has passed.
func (w *Worker) process(sctx context.Context, s *slot, h *client.Handle) {
	t := s.t
	reserved := w.clk.Now()
	r := &run{t: t, h: h, done: make(chan struct{})}
	r.job = &r.j
	plain, err := w.describe(r.job, t, h)
	if err != nil {
		// The job is gone (its TTR ran out already) or the connection
		// broke, which gives it back: either way it is not ours.
		w.cfg.Logger.Warn("worker: job not handled: stats-job failed", "tube", t.name, "id", h.ID, "server", h.Addr, "err", err)
		w.finishWith(t, h, func(ctx context.Context) error { return h.Release(ctx, 0, 0) })
		return
	}
	w.setPlain(h.Addr, plain)

	j := r.job
	s.setCurrent(r)
	defer func() {
		s.setCurrent(nil)
		close(r.done)
	}()

	hctx, cancelRun := context.WithCancelCause(sctx)
	var beating chan struct{} // closed when the heartbeat has stopped
	if t.opt.Heartbeat {
		beating = make(chan struct{})
		go func() {
			defer close(beating)
			w.heartbeat(hctx, r, cancelRun)
		}()
	} else {
		tm := w.clk.AfterFunc(budget(j.TTR)-w.clk.Now().Sub(reserved), func() { cancelRun(ErrTTR) })
		defer tm.Stop()
	}
	err = call(hctx, t.h, j)
	cancelRun(nil)
	if beating != nil {
		<-beating
	}
	if r.settle() {
		if err != nil && sctx.Err() != nil {
			// The shutdown cancelled the handler: not the job's failure.
			w.release(r)
			return
		}
		w.outcome(r, err)
	}
}

// release gives r's job back, ready with its priority, at shutdown.
func (w *Worker) release(r *run) {
	j := r.job
	w.finishWith(r.t, r.h, func(ctx context.Context) error { return r.h.Release(ctx, j.Priority, 0) })
	w.cfg.Logger.Info("worker: shutdown timeout passed; job released", "tube", j.Tube, "id", j.ID, "server", j.Server)
}

// describe fills j with the Job of h: from what the server said with the
// job (claim), asking stats-job for the failure history only if the job
// has one; else, from a server without claim, from its stats-job
// dictionary. plain reports a server without failure policies
// (beanstalkd).
func (w *Worker) describe(j *Job, t tube, h *client.Handle) (plain bool, err error) {
	info, claimed := h.Info()
	if claimed && !info.History {
		*j = Job{ID: h.ID, Tube: t.name, Body: h.Body, Server: h.Addr, Priority: info.Priority, TTR: info.TTR, Attempt: info.Failures + 1}
		j.History.Origin = info.Tube
		if j.TTR <= 0 {
			j.TTR = time.Second
		}
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	st, err := h.Stats(ctx)
	if err != nil {
		return false, err
	}
	return fromStats(j, t.name, h, st), nil
}

// fromStats fills j with the Job of h from its stats-job dictionary; it
// reports a server without failure policies (no failures key: beanstalkd).
func fromStats(j *Job, tubeName string, h *client.Handle, st client.Stats) (plain bool) {
	*j = Job{ID: h.ID, Tube: tubeName, Body: h.Body, Server: h.Addr}
	if pri, err := st.Uint("pri"); err == nil {
		j.Priority = uint32(pri)
	}
	j.TTR, _ = st.Duration("ttr")
	if j.TTR <= 0 {
		j.TTR = time.Second
	}
	_, reprieve := st["failures"]
	if reprieve {
		j.History = st.History()
		j.Attempt = j.History.Attempts + 1
	} else {
		n, _ := st.Uint("reserves")
		j.Attempt = max(int(n), 1)
	}
	return !reprieve
}

// heartbeat touches r's job every half of its budget until ctx ends; a
// touch that fails cancels the handler (the job is lost to it). A touch is
// bounded by the budget, not by ctx: a request cut short closes the
// connection, and with it the reservation.
func (w *Worker) heartbeat(ctx context.Context, r *run, cancel context.CancelCauseFunc) {
	for w.sleep(ctx, budget(r.job.TTR)/2) {
		if err := w.touch(r); err != nil {
			w.cfg.Logger.Warn("worker: touch failed; cancelling the handler", "tube", r.t.name, "id", r.job.ID, "server", r.job.Server, "err", err)
			cancel(fmt.Errorf("worker: touch: %w", err))
			return
		}
	}
}

// touch touches r's job, bounded by its budget.
func (w *Worker) touch(r *run) error {
	ctx, cancel := context.WithTimeout(context.Background(), budget(r.job.TTR))
	defer cancel()
	return r.h.Touch(ctx)
}

// call runs h, turning a panic into an error that carries the panic value
// and the top of the stack.
func call(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{text: fmt.Sprintf("panic: %v\n%s", v, stackTop(8))}
		}
	}()
	return h(ctx, j)
}

// callName is call's name in a stack trace, where the handler's frames end.
const callName = "github.com/reprieve/reprieve/worker.call"

// panicError is a recovered panic.
type panicError struct{ text string }

func (e *panicError) Error() string { return e.text }

// stackTop formats up to n frames of the panicking goroutine's stack,
// from the frame that panicked down to the handler, one
// "function\n\tfile:line" each.
func stackTop(n int) string {
	pcs := make([]uintptr, 64)
	pcs = pcs[:runtime.Callers(3, pcs)]
	frames := runtime.CallersFrames(pcs)
	var b strings.Builder
	for n > 0 {
		f, more := frames.Next()
		if f.Function == callName {
			break
		}
		if !strings.HasPrefix(f.Function, "runtime.") {
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
			n--
		}
		if !more {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
