package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Handle is a job reserved through a Pool. It remembers the server and the
// connection that reserved it, so that Delete, Release, Bury and Touch go
// there. Finish every Handle with Delete, Release or Bury: until then it
// keeps a connection to itself. A Handle is safe for concurrent use.
type Handle struct {
	Job
	Addr string

	p *Pool
	s *server

	mu sync.Mutex // protects r
	r  *reserver  // nil once finished
}

// ErrFinished is returned by a Handle's methods after Delete, Release or
// Bury.
var ErrFinished = errors.New("client: job already finished")

// Delete deletes the job and finishes the Handle.
func (h *Handle) Delete(ctx context.Context) error {
	return h.finish(ctx, func(c *Conn) error { return c.Delete(ctx, h.ID) })
}

// Release puts the job back (delayed if delay > 0) with a new priority and
// finishes the Handle.
func (h *Handle) Release(ctx context.Context, pri uint32, delay time.Duration) error {
	return h.finish(ctx, func(c *Conn) error { return c.Release(ctx, h.ID, pri, delay) })
}

// Bury buries the job with a new priority and finishes the Handle.
func (h *Handle) Bury(ctx context.Context, pri uint32) error {
	return h.finish(ctx, func(c *Conn) error { return c.Bury(ctx, h.ID, pri) })
}

// Touch gives the job its whole TTR again; the Handle stays open.
func (h *Handle) Touch(ctx context.Context) error {
	h.mu.Lock()
	r := h.r
	h.mu.Unlock()
	if r == nil {
		return fmt.Errorf("touch job %d on %s: %w", h.ID, h.Addr, ErrFinished)
	}
	return r.c.Touch(ctx, h.ID)
}

// finish runs op on the reserving connection, then gives the connection
// back to the pool, whatever op answered.
func (h *Handle) finish(ctx context.Context, op func(*Conn) error) error {
	h.mu.Lock()
	r := h.r
	h.r = nil
	h.mu.Unlock()
	if r == nil {
		return fmt.Errorf("job %d on %s: %w", h.ID, h.Addr, ErrFinished)
	}
	err := op(r.c)
	h.p.putIdle(h.s, r)
	return err
}

// Reserve returns the first job any live server hands out from tubes
// ("default" if none are named). It waits up to timeout (whole seconds,
// rounded up, measured by the servers; negative waits until ctx ends; zero
// returns at once), then returns an error wrapping ErrTimedOut; with no live
// server it returns ErrNoServers.
//
// It first asks each live server in turn (the starting one rotates) for a
// ready job, then waits on all of them at once on connections of their own;
// when one answers, the others' waits are cut by closing their connections,
// which hold no other job. A server that comes back while Reserve waits
// joins the wait. Reserve never reports DEADLINE_SOON: each Handle has a
// connection to itself.
func (p *Pool) Reserve(ctx context.Context, timeout time.Duration, tubes ...string) (*Handle, error) {
	if len(tubes) == 0 {
		tubes = []string{"default"}
	}
	for _, t := range tubes {
		if err := ValidTubeName(t); err != nil {
			return nil, fmt.Errorf("reserve: %w", err)
		}
	}
	if h, err := p.sweep(ctx, tubes); h != nil || err != nil {
		return h, err
	}
	if timeout == 0 {
		return nil, fmt.Errorf("reserve on %d servers: %w", len(p.servers), ErrTimedOut)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = p.cfg.Clock.Now().Add(timeout)
	}
	for {
		wait := time.Duration(-1)
		if timeout > 0 {
			if wait = deadline.Sub(p.cfg.Clock.Now()); wait < time.Second {
				wait = time.Second
			}
		}
		h, err, again := p.waitAll(ctx, tubes, wait)
		if !again {
			return h, err
		}
		if timeout > 0 && !p.cfg.Clock.Now().Before(deadline) {
			return nil, fmt.Errorf("reserve on %d servers: %w", len(p.servers), ErrTimedOut)
		}
	}
}

// sweep asks each live server once for a ready job. It returns (nil, nil)
// when none had one, and ErrNoServers when none answered.
func (p *Pool) sweep(ctx context.Context, tubes []string) (*Handle, error) {
	n := uint64(len(p.servers))
	start := p.next.Add(1) - 1
	answered := 0
	for i := range n {
		s := p.servers[(start+i)%n]
		// A broken idle connection (the server restarted) earns one more
		// try on a fresh one; a failed dial takes the server for dead.
		for attempt := 0; attempt < 2 && s.isLive(); attempt++ {
			r, err := p.takeReserver(ctx, s, tubes)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				break
			}
			j, err := r.c.ReserveWithTimeout(ctx, 0)
			if err == nil {
				return &Handle{Job: j, Addr: s.addr, p: p, s: s, r: r}, nil
			}
			p.putIdle(s, r)
			switch {
			case ctx.Err() != nil:
				return nil, err
			case errors.Is(err, ErrTimedOut):
				answered++
			case errors.Is(err, ErrClosed):
				p.dropIdle(s)
				continue
			default:
				return nil, err
			}
			break
		}
	}
	if answered == 0 {
		return nil, fmt.Errorf("reserve: %w", ErrNoServers)
	}
	return nil, nil
}

// dropIdle closes the idle reserving connections of s.
func (p *Pool) dropIdle(s *server) {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, r := range idle {
		r.c.Close()
	}
}

// waitResult is what one server's wait in waitAll ends with.
type waitResult struct {
	s   *server
	r   *reserver
	job Job
	err error
}

// waitAll waits for a job on every live server at once for wait (negative:
// no limit). again reports that the wait should start over: a server came
// back, or every server's connection failed.
func (p *Pool) waitAll(ctx context.Context, tubes []string, wait time.Duration) (h *Handle, err error, again bool) {
	changed := p.serverUp.wait()
	var live []*server
	for _, s := range p.servers {
		if s.isLive() {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("reserve: %w", ErrNoServers), false
	}
	wctx, cut := context.WithCancel(ctx)
	defer cut()
	results := make(chan waitResult, len(live))
	var wg sync.WaitGroup
	for _, s := range live {
		wg.Go(func() {
			res := waitResult{s: s}
			res.r, res.err = p.takeReserver(wctx, s, tubes)
			if res.err == nil {
				if wait < 0 {
					res.job, res.err = res.r.c.Reserve(wctx)
				} else {
					res.job, res.err = res.r.c.ReserveWithTimeout(wctx, wait)
				}
			}
			results <- res
		})
	}

	var won *waitResult
	var firstErr error
	pending, timedOut := len(live), 0
	for pending > 0 && won == nil {
		select {
		case res := <-results:
			pending--
			switch {
			case res.err == nil:
				won = &res
				continue
			case errors.Is(res.err, ErrTimedOut):
				timedOut++
			case errors.Is(res.err, ErrClosed) && wctx.Err() == nil:
				// Not cut by us: the server went away during the wait.
				p.markDead(res.s, nil)
			case firstErr == nil && !errors.Is(res.err, ErrClosed):
				firstErr = res.err
			}
			if res.r != nil {
				p.putIdle(res.s, res.r)
			}
		case <-changed:
			again = true
			changed = nil
			cut()
		case <-ctx.Done():
			cut()
		}
		if again || ctx.Err() != nil {
			break
		}
	}
	cut() // ends the waits still going; their connections close
	wg.Wait()
	close(results)
	for res := range results {
		if res.r == nil {
			continue
		}
		if res.err == nil && won == nil && ctx.Err() == nil {
			won = &res
			continue
		}
		// A job that arrived after another won goes back to ready when its
		// connection closes; cut connections are closed already.
		res.r.c.Close()
		p.putIdle(res.s, res.r)
	}
	if won != nil {
		return &Handle{Job: won.job, Addr: won.s.addr, p: p, s: won.s, r: won.r}, nil, false
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reserve: %w", context.Cause(ctx)), false
	}
	if again {
		return nil, nil, true
	}
	switch {
	case timedOut > 0:
		// The servers waited the whole remaining time.
		return nil, fmt.Errorf("reserve on %d servers: %w", len(live), ErrTimedOut), false
	case firstErr != nil:
		return nil, firstErr, false
	}
	return nil, nil, true // every wait failed: look again at which servers live
}

// takeReserver returns an idle reserving connection to s watching exactly
// tubes, dialing one if none is idle.
func (p *Pool) takeReserver(ctx context.Context, s *server, tubes []string) (*reserver, error) {
	s.mu.Lock()
	var r *reserver
	if n := len(s.idle); n > 0 {
		r, s.idle = s.idle[n-1], s.idle[:n-1]
	}
	s.mu.Unlock()
	if r == nil {
		c, err := p.dial(ctx, s.addr)
		if err != nil {
			if ctx.Err() == nil {
				p.markDead(s, nil)
			}
			return nil, err
		}
		r = &reserver{c: c, watched: []string{"default"}}
	}
	s.mu.Lock()
	if !s.live || p.ctx.Err() != nil {
		s.mu.Unlock()
		r.c.Close()
		return nil, fmt.Errorf("reserve on %s: %w", s.addr, ErrClosed)
	}
	if s.busy == nil {
		s.busy = make(map[*reserver]bool)
	}
	s.busy[r] = true
	s.mu.Unlock()
	if err := r.watch(ctx, tubes); err != nil {
		p.putIdle(s, r)
		return nil, err
	}
	return r, nil
}

// watch makes r watch exactly tubes.
func (r *reserver) watch(ctx context.Context, tubes []string) error {
	if slices.Equal(r.watched, tubes) {
		return nil
	}
	for _, t := range tubes {
		if _, err := r.c.Watch(ctx, t); err != nil {
			return err
		}
	}
	for _, t := range r.watched {
		if !slices.Contains(tubes, t) {
			if _, err := r.c.Ignore(ctx, t); err != nil {
				return err
			}
		}
	}
	r.watched = slices.Clone(tubes)
	return nil
}

// putIdle keeps r for the next reserve on s, or closes it if it is broken,
// s is dead or enough are idle.
func (p *Pool) putIdle(s *server, r *reserver) {
	s.mu.Lock()
	delete(s.busy, r)
	keep := r.c.Err() == nil && s.live && len(s.idle) < p.cfg.MaxIdleReservers && p.ctx.Err() == nil
	if keep {
		s.idle = append(s.idle, r)
	}
	s.mu.Unlock()
	if !keep {
		r.c.Close()
	}
}
