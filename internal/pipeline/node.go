package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
)

// ErrGaveUp is wrapped by the error an input's OnDone callback receives when
// a message left the pipeline through a failure: an unconnected failed queue,
// an exhausted hop budget or a drop.
var ErrGaveUp = errors.New("pipeline: message given up")

// FallbackErrorMeta is the Meta key holding the newest failure's error text,
// as Benthos's fallback output names it; the full story is Message.Errors.
const FallbackErrorMeta = "fallback_error"

// ErrPanic is wrapped by the failure recorded when a module's Handle panics.
var ErrPanic = errors.New("pipeline: module panicked")

// node is one module instance with its queues.
type node struct {
	p      *Pipeline
	cfg    ModuleConfig
	kind   *Kind
	env    *Env
	mod    Module
	inq    map[string]*queue
	routes map[string]*route

	handled, failed, dead, restarts atomic.Uint64

	failures *failureLog
}

// emit routes a copy of m to output queue q.
func (n *node) emit(ctx context.Context, q string, m *Message) error {
	r, ok := n.routes[q]
	if !ok {
		return fmt.Errorf("pipeline: module %q emitted to undeclared queue %q", n.cfg.Name, q)
	}
	r.emitted.Add(1)
	c := m.Clone()
	c.track.acquire()
	from := QueueRef{n.cfg.Name, q}
	if r.dst == nil {
		n.p.observe(from, QueueRef{}, c)
		r.discarded.Add(1)
		var terminal error
		if q == "failed" {
			terminal = errors.New(lastErrorText(c))
			n.env.Log.Error("message failed and the failed queue is not connected; dropped",
				"id", c.ID, "hops", c.Hops, "attempt", c.Attempt, "errors", chainText(c))
		}
		c.track.release(terminal)
		return nil
	}
	dst := r.dst
	c.Hops++
	if c.Hops > n.p.cfg.HopBudget && dst != n.p.dead {
		reason := fmt.Sprintf("hop budget of %d exhausted routing %s.%s -> %s", n.p.cfg.HopBudget, n.cfg.Name, q, dst.ref)
		c.annotate(Failure{Module: n.cfg.Name, Error: reason, Hop: c.Hops, Attempt: c.Attempt, Time: n.p.clock.Now()})
		n.dead.Add(1)
		if n.p.dead == nil {
			n.p.observe(from, QueueRef{}, c)
			n.env.Log.Error("message dropped: "+reason, "id", c.ID, "errors", chainText(c))
			c.track.release(errors.New(reason))
			return nil
		}
		dst = n.p.dead
	}
	n.p.observe(from, dst.ref, c)
	n.p.inflight.Add(1)
	accepted, err := dst.put(ctx, c)
	if err != nil || !accepted {
		n.p.settle()
		if err != nil {
			// Not delivered: give the reference back without a verdict; the
			// caller sees the error (an input will re-read the record).
			if c.track != nil {
				c.track.refs.Add(-1)
			}
			return fmt.Errorf("pipeline: emit to %s: %w", dst.ref, err)
		}
		c.track.release(fmt.Errorf("dropped: queue %s full", dst.ref))
		return nil
	}
	r.forwarded.Add(1)
	return nil
}

// serveQueue is the handler loop of one input queue; it returns when ctx is
// cancelled.
func (n *node) serveQueue(ctx context.Context, name string, q *queue) {
	h := n.mod.(Handler)
	for {
		select {
		case m := <-q.ch:
			if ctx.Err() != nil {
				// Shutdown raced with the receive: report it, do not handle it.
				n.p.recordLeft(n, q, m)
				continue
			}
			q.out.Add(1)
			n.handle(ctx, h, name, m)
		case <-ctx.Done():
			return
		}
	}
}

func (n *node) handle(ctx context.Context, h Handler, name string, m *Message) {
	defer n.p.settle()
	defer m.track.release(nil)
	err := callHandle(ctx, h, name, m)
	if err == nil {
		n.handled.Add(1)
		if e := n.emit(ctx, "successful", m); e != nil {
			n.env.Log.Error("message lost at shutdown", "id", m.ID, "error", e)
		}
		return
	}
	n.failed.Add(1)
	m.annotate(Failure{Module: n.cfg.Name, Error: err.Error(), Hop: m.Hops, Attempt: m.Attempt, Time: n.p.clock.Now()})
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	// Benthos users know the fallback output's fallback_error metadata.
	m.Meta[FallbackErrorMeta] = err.Error()
	var pe *panicError
	if errors.As(err, &pe) {
		n.env.Log.Error("module panicked", "id", m.ID, "queue", name, "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
	} else {
		n.failures.failed(m.ID, name, m.Hops, m.Attempt, err)
	}
	if e := n.emit(ctx, "failed", m); e != nil {
		n.env.Log.Error("message lost at shutdown", "id", m.ID, "error", e)
	}
}

func callHandle(ctx context.Context, h Handler, q string, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return h.Handle(ctx, q, m)
}

// panicError is a recovered panic; its text (which goes into the error
// chain) leaves the stack out, the log has it.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("%v: %v", ErrPanic, e.value) }

func (e *panicError) Unwrap() error { return ErrPanic }

func lastErrorText(m *Message) string {
	if f := m.LastError(); f != nil {
		return f.Module + ": " + f.Error
	}
	return "failed"
}

// chainText renders the error chain oldest first: "a: e1 <- b: e2".
func chainText(m *Message) string {
	s := ""
	if m.Dropped > 0 {
		s = fmt.Sprintf("(%d older) ", m.Dropped)
	}
	for i, f := range m.Errors {
		if i > 0 {
			s += " -> "
		}
		s += fmt.Sprintf("%s[hop %d, attempt %d]: %s", f.Module, f.Hop, f.Attempt, f.Error)
	}
	return s
}
