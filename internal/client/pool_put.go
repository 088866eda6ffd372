package client

import (
	"context"
	"errors"
	"fmt"
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
// A put that was re-sent after a lost connection or a timeout may have been
// stored by the first server too: delivery is at least once.
func (p *Pool) Put(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (JobRef, error) {
	if err := ValidTubeName(tube); err != nil {
		return JobRef{}, fmt.Errorf("put: %w", err)
	}
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
		id, err := p.putOn(ctx, s, c, tube, body, pri, delay, ttr)
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
		p.resends.Add(1)
	}
}

// putOn sends one put to s over c, bounded by PutTimeout.
func (p *Pool) putOn(ctx context.Context, s *server, c *Conn, tube string, body []byte, pri uint32, delay, ttr time.Duration) (uint64, error) {
	actx, done := p.withTimeout(ctx, p.cfg.PutTimeout, errPutTimeout)
	defer done()
	id, err := c.PutIn(actx, tube, body, pri, delay, ttr)
	if err == nil {
		s.mu.Lock()
		s.puts++
		s.mu.Unlock()
	}
	return id, err
}

// retryable decides whether a failed put may go to another server, and
// takes s for dead or avoids it for a while as the failure says.
func (p *Pool) retryable(s *server, c *Conn, err error) bool {
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, errPutTimeout):
		p.markDead(s, c)
		return true
	case errors.Is(err, ErrDraining), errors.Is(err, ErrOutOfMemory):
		s.mu.Lock()
		s.avoidUntil = p.cfg.Clock.Now().Add(p.cfg.RedialMax)
		s.mu.Unlock()
		return true
	}
	return false
}

// acquire picks the next live server not in tried with a free put slot and
// takes the slot. It waits while every such server is full; it returns
// ErrNoServers when there is none.
func (p *Pool) acquire(ctx context.Context, tried map[*server]bool) (*server, *Conn, error) {
	n := uint64(len(p.servers))
	for {
		changed := p.slotFreed.wait()
		now := p.cfg.Clock.Now()
		start := p.next.Add(1) - 1
		candidates := 0
		for i := range n {
			s := p.servers[(start+i)%n]
			if tried[s] {
				continue
			}
			c := s.producer(now)
			if c == nil {
				continue
			}
			candidates++
			select {
			case s.slots <- struct{}{}:
				return s, c, nil
			default:
			}
		}
		if candidates == 0 {
			return nil, nil, ErrNoServers
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
