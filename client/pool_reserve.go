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
// keeps a connection to itself and counts for DEADLINE_SOON (see
// Pool.Reserve). A Handle is safe for concurrent use.
type Handle struct {
	Job
	Addr string

	p       *Pool
	s       *server
	info    JobInfo // what claim said of the job, if claimed
	claimed bool    // the server answered claim (see Info)

	mu    sync.Mutex    // protects r, since, ttr
	r     *reserver     // nil once finished
	since time.Time     // when the reservation or the last Touch was answered, on the pool's clock
	ttr   time.Duration // the job's TTR; 0 until read with stats-job, negative if the job is gone
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

// Touch gives the job its whole TTR again; the Handle stays open, and its
// DEADLINE_SOON moves a TTR past the moment the server answered.
func (h *Handle) Touch(ctx context.Context) error {
	h.mu.Lock()
	r := h.r
	h.mu.Unlock()
	if r == nil {
		return fmt.Errorf("touch job %d on %s: %w", h.ID, h.Addr, ErrFinished)
	}
	if err := r.c.Touch(ctx, h.ID); err != nil {
		return err
	}
	h.mu.Lock()
	h.since = h.p.cfg.clock.Now()
	h.mu.Unlock()
	h.p.held.signal()
	return nil
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
	h.p.finished(h)
	err := op(r.c)
	h.p.putIdle(h.s, r)
	return err
}

// Stats returns the job's stats-job dictionary, asked on the connection
// that holds the job; the Handle stays open (and the pool learns the TTR
// it reckons DEADLINE_SOON with, without asking again). ErrFinished after
// Delete, Release, Bury or Fail.
func (h *Handle) Stats(ctx context.Context) (Stats, error) {
	h.mu.Lock()
	r := h.r
	h.mu.Unlock()
	if r == nil {
		return nil, fmt.Errorf("stats-job %d on %s: %w", h.ID, h.Addr, ErrFinished)
	}
	st, err := r.c.StatsJob(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	if ttr, err := st.Duration("ttr"); err == nil && ttr > 0 {
		h.mu.Lock()
		if h.ttr == 0 {
			h.ttr = ttr
		}
		h.mu.Unlock()
	}
	return st, nil
}

// Reserve returns the first job any live server hands out from tubes
// ("default" if none are named). It waits up to timeout on the pool's
// clock (negative: until ctx ends; zero: only a job at hand now), then
// returns an error wrapping ErrTimedOut; with no live server it returns an
// error wrapping ErrNoServers.
//
// It takes, in this order: a spare job of an earlier wait on the same
// tubes; a ready job, asking each live server in turn (the first server
// rotates) with claim 0 (reserve-with-timeout 0 on a connection whose
// server answered claim UNKNOWN_COMMAND); if a Handle of this pool is within
// DeadlineMargin of the end of its TTR, a *DeadlineSoonError naming it
// (beanstalkd's DEADLINE_SOON, which likewise loses to a ready job); else
// it waits on every live server at once, in slices of ReserveSlice on
// connections it keeps, taking in a server that comes back, until a job
// comes, a Handle's TTR comes within DeadlineMargin (*DeadlineSoonError),
// every server is dead (ErrNoServers), timeout passes or ctx ends.
//
// A wait cut short leaves the servers' slices to end by themselves, on
// their connections: a later Reserve on the same tubes joins them, so a
// worker that reserves again and again opens no new connection. When two
// servers hand out a job in the same slice, the one no Reserve takes is a
// spare, given to the next Reserve on the same tubes or released with its
// own priority (see SpareHold). A job that a wait still in flight takes
// just as Reserve starts reaches the pool a moment later as a spare, so a
// Reserve with timeout zero can miss it then.
func (p *Pool) Reserve(ctx context.Context, timeout time.Duration, tubes ...string) (*Handle, error) {
	tubes, key, err := watchList(tubes)
	if err != nil {
		return nil, err
	}
	if h := p.takeSpare(key); h != nil {
		return p.handOut(h), nil
	}
	h, covered, err := p.sweep(ctx, key, tubes)
	switch {
	case h != nil:
		return p.handOut(h), nil
	case err != nil:
		return nil, err
	case covered == 0:
		return nil, fmt.Errorf("reserve: %w", ErrNoServers)
	}
	if due := p.soonest(); due.h != nil {
		return nil, &DeadlineSoonError{Handle: due.h}
	}
	if timeout == 0 {
		return nil, fmt.Errorf("reserve on %d servers: %w", len(p.servers), ErrTimedOut)
	}
	return p.wait(ctx, key, tubes, timeout)
}

// watchList checks tube names and returns them sorted without repeats, and
// the key naming that set.
func watchList(tubes []string) ([]string, string, error) {
	if len(tubes) == 0 {
		tubes = []string{"default"}
	}
	for _, t := range tubes {
		if err := ValidTubeName(t); err != nil {
			return nil, "", fmt.Errorf("reserve: %w", err)
		}
	}
	tubes = slices.Clone(tubes)
	slices.Sort(tubes)
	tubes = slices.Compact(tubes)
	key := tubes[0]
	for _, t := range tubes[1:] {
		key += " " + t
	}
	return tubes, key, nil
}

// sweep asks each live server once for a ready job, skipping those where
// a wait on the same tubes is in flight that no Reserve is waiting for (it
// takes any job there at once, and this Reserve joins it); a server whose
// waits all serve other Reserves is asked, so that Reserves that come one
// after another while jobs are ready are not served one by one by a wait.
// covered counts the servers that answered or have such a wait.
func (p *Pool) sweep(ctx context.Context, key string, tubes []string) (h *Handle, covered int, err error) {
	n := uint64(len(p.servers))
	start := p.next.Add(1) - 1
	for i := range n {
		s := p.servers[(start+i)%n]
		if !s.isLive() {
			continue
		}
		if p.spareWaits(s, key) > 0 {
			covered++
			continue
		}
		// A wait that ended meanwhile may have left its job as a spare
		// (before it stopped counting), holding the connection a reserve
		// here would take.
		if h := p.takeSpare(key); h != nil {
			return h, covered, nil
		}
		// A broken idle connection (the server restarted) earns one more
		// try on a fresh one; a failed dial takes the server for dead.
		for attempt := 0; attempt < 2 && s.isLive(); attempt++ {
			r, err := p.takeReserver(ctx, s, tubes)
			if err != nil {
				if ctx.Err() != nil {
					return nil, covered, err
				}
				break
			}
			j, info, claimed, err := r.reserveOn(ctx, 0)
			if err == nil {
				return p.newHandle(s, r, j, info, claimed), covered, nil
			}
			p.putIdle(s, r)
			switch {
			case ctx.Err() != nil:
				return nil, covered, err
			case errors.Is(err, ErrTimedOut):
				covered++
			case errors.Is(err, ErrClosed):
				p.dropIdle(s)
				continue
			default:
				return nil, covered, err
			}
			break
		}
	}
	return nil, covered, nil
}

// newHandle makes the Handle of job j, just reserved on s through r, with
// what claim said of it if claimed. A claimed job's TTR is known, so the
// pool need not read it for DEADLINE_SOON.
func (p *Pool) newHandle(s *server, r *reserver, j Job, info JobInfo, claimed bool) *Handle {
	h := &Handle{Job: j, Addr: s.addr, p: p, s: s, r: r, since: p.cfg.clock.Now(), info: info, claimed: claimed}
	if claimed && info.TTR > 0 {
		h.ttr = info.TTR
	}
	return h
}
