package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// JobRef names a job in a Pool: the server that holds it and its id there.
type JobRef struct {
	Addr string
	ID   uint64
}

// errPutTimeout is the cause of an attempt's context when PutTimeout passed.
var errPutTimeout = errors.New("client: put timed out")

// Put adds a job to tube on the next live server, round robin, and returns
// where it went. delay and ttr are sent in whole seconds, rounded up.
//
// It skips dead servers and servers with MaxInFlight puts in flight, and
// waits (until ctx ends) only when every live server is that busy. When a
// server fails the put (connection lost, no answer within PutTimeout,
// DRAINING, OUT_OF_MEMORY) the put is sent to the next server; after every
// live server has failed it, or if none is live, it returns an error
// wrapping ErrNoServers and the last failure. Errors that another server
// would repeat (JOB_TOO_BIG, BAD_FORMAT, a bad tube name) return at once.
//
// A put re-sent after a lost connection may have been stored by the first
// server too: delivery is at least once. A put re-sent after a timeout is
// undone on the first server if that server answers within one more
// PutTimeout and the copy is still ready or delayed there (see the package
// documentation for exactly when a copy stays).
func (p *Pool) Put(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (ref JobRef, err error) {
	if err := ValidTubeName(tube); err != nil {
		return JobRef{}, fmt.Errorf("put: %w", err)
	}
	out := &putOutcome{done: make(chan struct{})}
	defer func() {
		out.stored = err == nil
		close(out.done)
	}()
	tried := make(map[*server]bool, len(p.servers))
	var last error
	for {
		s, c, err := p.acquire(ctx, tried)
		if err != nil {
			if last != nil && errors.Is(err, ErrNoServers) {
				return JobRef{}, fmt.Errorf("put: %w (tried %d); last failure: %w", ErrNoServers, len(tried), last)
			}
			return JobRef{}, fmt.Errorf("put: %w", err)
		}
		if last != nil {
			p.resends.Add(1)
		}
		id, err := p.putOn(ctx, s, c, out, tube, body, pri, delay, ttr)
		<-s.slots
		p.slotFreed.signal()
		if err == nil {
			return JobRef{Addr: s.addr, ID: id}, nil
		}
		if ctx.Err() != nil {
			if c.Err() != nil {
				p.markDead(s, c) // the caller's ended context closed the shared connection
			}
			return JobRef{}, err
		}
		if !p.retryable(s, c, err) {
			return JobRef{}, err
		}
		tried[s] = true
		last = err
	}
}

// putOutcome is how a Put ended, for the late answers of its attempts that
// timed out.
type putOutcome struct {
	done   chan struct{} // closed when the Put returns
	stored bool          // the Put returned a JobRef; written before done is closed
}

// putAttempt is one put sent to one server. Its sender and the Put race to
// settle it: the sender when the answer comes, the Put when PutTimeout
// passes or its context ends.
type putAttempt struct {
	state atomic.Int32   // attemptPending, then attemptAnswered or attemptAbandoned
	res   chan putResult // the answer, once attemptAnswered; capacity 1
}

const (
	attemptPending int32 = iota
	attemptAnswered
	attemptAbandoned
)

// putResult is a server's answer to one put.
type putResult struct {
	id  uint64
	err error
}

// putOn sends one put to s over c and waits up to PutTimeout for the
// answer. The put is written by a goroutine of the pool, so that an answer
// that comes after the timeout is still read: undoLate then deletes the
// copy if the Put was stored elsewhere.
func (p *Pool) putOn(ctx context.Context, s *server, c *Conn, out *putOutcome, tube string, body []byte, pri uint32, delay, ttr time.Duration) (uint64, error) {
	a := &putAttempt{res: make(chan putResult, 1)}
	if !p.spawn(func() { p.send(s, c, a, out, tube, body, pri, delay, ttr) }) {
		return 0, fmt.Errorf("put on %s: %w", s.addr, ErrClosed)
	}
	timedOut := make(chan struct{})
	t := p.cfg.clock.AfterFunc(p.cfg.PutTimeout, func() { close(timedOut) })
	defer t.Stop()
	var r putResult
	select {
	case r = <-a.res:
	case <-timedOut:
		if !a.state.CompareAndSwap(attemptPending, attemptAbandoned) {
			r = <-a.res // answered just in time
			break
		}
		return 0, fmt.Errorf("put on %s: no answer within %v: %w", s.addr, p.cfg.PutTimeout, errPutTimeout)
	case <-ctx.Done():
		if !a.state.CompareAndSwap(attemptPending, attemptAbandoned) {
			r = <-a.res
			break
		}
		c.Close() // a request cannot be withdrawn: as a Conn does for an ended context
		return 0, fmt.Errorf("put on %s: %w", s.addr, context.Cause(ctx))
	}
	if r.err == nil {
		s.mu.Lock()
		s.puts++
		s.mu.Unlock()
	}
	return r.id, r.err
}

// send writes the put of a over c and settles a with the answer, or, if
// the Put abandoned a first, treats the answer as late.
func (p *Pool) send(s *server, c *Conn, a *putAttempt, out *putOutcome, tube string, body []byte, pri uint32, delay, ttr time.Duration) {
	id, err := c.PutIn(p.ctx, tube, body, pri, delay, ttr)
	if a.state.CompareAndSwap(attemptPending, attemptAnswered) {
		a.res <- putResult{id, err}
		return
	}
	if err == nil || errors.Is(err, ErrBuried) {
		p.undoLate(s, c, out, id)
	}
}

// undoLate deletes job id, stored by s after its put had timed out, once
// the Put has ended stored elsewhere; if the Put failed this copy is the
// only one and stays. It deletes over c, or over a new connection if c
// was closed meanwhile. A copy that a worker reserved first cannot be
// deleted and stays. PoolStats counts both outcomes.
func (p *Pool) undoLate(s *server, c *Conn, out *putOutcome, id uint64) {
	select {
	case <-out.done:
	case <-p.ctx.Done():
		return
	}
	if !out.stored {
		p.lateKept.Add(1)
		return
	}
	ctx, done := p.withTimeout(p.ctx, p.cfg.PutTimeout, errPutTimeout)
	defer done()
	if c.Err() != nil {
		var err error
		if c, err = p.dial(ctx, s.addr); err != nil {
			p.lateKept.Add(1)
			return
		}
		defer c.Close()
	}
	if err := c.Delete(ctx, id); err != nil {
		p.lateKept.Add(1)
		return
	}
	p.lateDeleted.Add(1)
}

// retryable decides whether a failed put may go to another server, and
// takes s for dead or avoids it for a while as the failure says.
func (p *Pool) retryable(s *server, c *Conn, err error) bool {
	switch {
	case errors.Is(err, errPutTimeout):
		p.markDeadKeeping(s, c) // c stays open a while for late answers
		return true
	case errors.Is(err, ErrClosed):
		p.markDead(s, c)
		return true
	case errors.Is(err, ErrDraining), errors.Is(err, ErrOutOfMemory):
		s.mu.Lock()
		s.avoidUntil = p.cfg.clock.Now().Add(p.cfg.RedialMax)
		s.mu.Unlock()
		return true
	}
	return false
}

// acquire picks the next live server not in tried with a free put slot and
// takes the slot. The round-robin cursor counts over the live servers only,
// so that a dead server's share is spread evenly over the others rather
// than falling to the one after it. It waits while every such server is
// full; it returns ErrNoServers when there is none.
func (p *Pool) acquire(ctx context.Context, tried map[*server]bool) (*server, *Conn, error) {
	type candidate struct {
		s *server
		c *Conn
	}
	live := make([]candidate, 0, len(p.servers))
	for {
		changed := p.slotFreed.wait()
		now := p.cfg.clock.Now()
		live = live[:0]
		for _, s := range p.servers {
			if tried[s] {
				continue
			}
			if c := s.producer(now); c != nil {
				live = append(live, candidate{s, c})
			}
		}
		if len(live) == 0 {
			return nil, nil, ErrNoServers
		}
		n := uint64(len(live))
		start := p.next.Add(1) - 1
		for i := range n {
			cand := live[(start+i)%n]
			select {
			case cand.s.slots <- struct{}{}:
				return cand.s, cand.c, nil
			default:
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		case <-p.ctx.Done():
			return nil, nil, ErrClosed
		}
	}
}
