package pipeline

import (
	"context"
	"fmt"
)

// Observer is told of every message that leaves a module's output queue
// (from) and of every message Inject puts on an input queue (from is then
// the zero QueueRef). to is the input queue it was delivered to, or the zero
// QueueRef when from is not connected or the message was dropped. m is the
// observer's own copy. It is called from the emitting goroutine, so it must
// be quick and safe for concurrent use.
type Observer func(from, to QueueRef, m *Message)

// observe hands the observer a copy of m.
func (p *Pipeline) observe(from, to QueueRef, m *Message) {
	if p.observer != nil {
		c := m.Clone()
		c.track = nil
		p.observer(from, to, c)
	}
}

// Inject puts m on the queue ref while Run runs, as `reprieve test` feeds a
// pipeline: on an output queue of a module it goes through that queue's
// route as if the module had emitted it; on an input queue it goes straight
// in. It blocks while the queue is full, until ctx ends. Errors: an unknown
// module or queue (wrapping ErrUnknownModule for the module), or ctx's.
func (p *Pipeline) Inject(ctx context.Context, ref QueueRef, m *Message) error {
	n, ok := p.byName[ref.Module]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownModule, ref.Module)
	}
	if _, out := n.routes[ref.Queue]; out {
		return n.emit(ctx, ref.Queue, m)
	}
	q, in := n.inq[ref.Queue]
	if !in {
		return fmt.Errorf("pipeline: module %q has no queue %q", ref.Module, ref.Queue)
	}
	c := m.Clone()
	p.observe(QueueRef{}, ref, c)
	p.inflight.Add(1)
	accepted, err := q.put(ctx, c)
	if err != nil || !accepted {
		p.settle()
		if err != nil {
			return fmt.Errorf("pipeline: inject into %s: %w", ref, err)
		}
		return fmt.Errorf("pipeline: inject into %s: dropped, the queue is full", ref)
	}
	return nil
}
