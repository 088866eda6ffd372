package pipeline

import (
	"context"
	"sync/atomic"
)

// queue is a module's bounded input queue.
type queue struct {
	ref  QueueRef
	ch   chan *Message
	drop bool // a full queue drops instead of blocking the sender

	in, out, dropped atomic.Uint64
}

func newQueue(ref QueueRef, size int, drop bool) *queue {
	return &queue{ref: ref, ch: make(chan *Message, size), drop: drop}
}

// put enqueues m, blocking while the queue is full unless it drops. It
// reports false if m was dropped; err is ctx's error if ctx ended first.
// The in counter is raised before the send, so a reader of the counters
// never sees a message leave a queue before it was counted in.
func (q *queue) put(ctx context.Context, m *Message) (bool, error) {
	q.in.Add(1)
	if q.drop {
		select {
		case q.ch <- m:
			return true, nil
		default:
			q.in.Add(^uint64(0))
			q.dropped.Add(1)
			return false, nil
		}
	}
	select {
	case q.ch <- m: // room now: sent even if ctx has ended
		return true, nil
	default:
	}
	select {
	case q.ch <- m:
		return true, nil
	case <-ctx.Done():
		q.in.Add(^uint64(0))
		return false, ctx.Err()
	}
}

// route is one output queue of a module: where it goes (dst nil when the
// routing table leaves it unconnected) and its counters.
type route struct {
	dst *queue

	emitted, forwarded, discarded atomic.Uint64
}
