package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A waiting Reserve registers as a taker of its tube set. Waits run on
// goroutines of the pool, one per slice in flight: each sends
// reserve-with-timeout ReserveSlice to its server, hands a job to the
// oldest taker of the set (or keeps it as a spare), and goes on while the
// set has at least as many takers as the server has waits for it. A wait
// whose Reserve gave up thus ends at the end of its slice, keeping its
// connection, and a Reserve that comes meanwhile joins it.

// taker is one waiting Reserve.
type taker struct {
	got chan waitResult // what a wait got for this Reserve; capacity 1, sent under Pool.mu
}

// waitResult is a job for a taker, or the error reply that ended a wait.
type waitResult struct {
	h   *Handle
	err error
}

// sliceKey names the waits on one server for one tube set.
type sliceKey struct {
	s   *server
	key string
}

// wait is Reserve's wait on every live server: see Reserve.
func (p *Pool) wait(ctx context.Context, key string, tubes []string, timeout time.Duration) (*Handle, error) {
	t := &taker{got: make(chan waitResult, 1)}
	for {
		// A spare left since the sweep is taken before waiting: keepSpare
		// gives to takers only those that are registered when it stores.
		if h := p.takeSpare(key); h != nil {
			return p.handOut(h), nil
		}
		p.mu.Lock()
		if len(p.spares[key]) == 0 {
			p.takers[key] = append(p.takers[key], t)
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
	}

	var expired chan struct{}
	if timeout > 0 {
		expired = make(chan struct{})
		tm := p.cfg.clock.AfterFunc(timeout, func() { close(expired) })
		defer tm.Stop()
	}
	for {
		changed := p.liveChanged.wait()
		held := p.held.wait()
		if p.liveServers() == 0 {
			if h := p.abandon(key, t); h != nil {
				return p.handOut(h), nil
			}
			return nil, fmt.Errorf("reserve: %w", ErrNoServers)
		}
		p.startWaits(key, tubes)
		due := p.soonest()
		if due.h != nil {
			if h := p.abandon(key, t); h != nil {
				return p.handOut(h), nil // a job beats DEADLINE_SOON
			}
			return nil, &DeadlineSoonError{Handle: due.h}
		}
		var soon chan struct{}
		var soonTimer interface{ Stop() bool }
		if !due.next.IsZero() {
			d := due.next.Sub(p.cfg.clock.Now())
			if d <= 0 {
				continue // the clock passed it meanwhile (a fake clock would not fire a timer of 0)
			}
			soon = make(chan struct{})
			ch := soon
			soonTimer = p.cfg.clock.AfterFunc(d, func() { close(ch) })
		}
		select {
		case res := <-t.got:
			stop(soonTimer)
			if res.err != nil {
				return nil, res.err
			}
			return p.handOut(res.h), nil
		case <-changed:
		case <-held:
		case <-soon:
		case <-expired:
			stop(soonTimer)
			if h := p.abandon(key, t); h != nil {
				return p.handOut(h), nil
			}
			return nil, fmt.Errorf("reserve on %d servers for %v: %w", len(p.servers), timeout, ErrTimedOut)
		case <-ctx.Done():
			stop(soonTimer)
			if h := p.abandon(key, t); h != nil {
				p.spawn(func() { p.deliver(key, h) })
			}
			return nil, fmt.Errorf("reserve: %w", context.Cause(ctx))
		}
		stop(soonTimer)
	}
}

// stop stops t if there is one.
func stop(t interface{ Stop() bool }) {
	if t != nil {
		t.Stop()
	}
}

// abandon withdraws t from the takers of key. If a wait had already handed
// t a job it returns that job, which is then the caller's to place.
func (p *Pool) abandon(key string, t *taker) *Handle {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.takers[key], t); i >= 0 {
		p.takers[key] = slices.Delete(p.takers[key], i, i+1)
		if len(p.takers[key]) == 0 {
			delete(p.takers, key)
		}
		return nil
	}
	return (<-t.got).h // sent under p.mu when t was taken off the list
}

// liveServers counts the servers taken for live.
func (p *Pool) liveServers() int {
	n := 0
	for _, s := range p.servers {
		if s.isLive() {
			n++
		}
	}
	return n
}

// spareWaits returns how many waits on tubes key are in flight on s beyond
// one per waiting Reserve (those whose Reserve gave up).
func (p *Pool) spareWaits(s *server, key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slicing[sliceKey{s, key}] - len(p.takers[key])
}

// inFlight returns how many waits on tubes key are in flight on s.
func (p *Pool) inFlight(s *server, key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slicing[sliceKey{s, key}]
}

// startWaits starts waits on every live server until each has as many on
// key as key has takers.
func (p *Pool) startWaits(key string, tubes []string) {
	for _, s := range p.servers {
		if !s.isLive() {
			continue
		}
		k := sliceKey{s, key}
		p.mu.Lock()
		for p.slicing[k] < len(p.takers[key]) {
			if !p.spawnLocked(func() { p.waitOn(s, key, tubes) }) {
				break
			}
			p.slicing[k]++
		}
		p.mu.Unlock()
	}
}

// goOn reports whether a wait on s for key should run another slice. If
// not, it gives *r back to the idle list first and only then stops being
// counted, so that a Reserve that sees no wait in flight finds the
// connection idle; a taker that came meanwhile keeps it going.
func (p *Pool) goOn(s *server, key string, r **reserver) bool {
	live := s.isLive()
	k := sliceKey{s, key}
	for {
		p.mu.Lock()
		if live && !p.closed && p.slicing[k] <= len(p.takers[key]) {
			p.mu.Unlock()
			return true
		}
		if *r == nil {
			if p.slicing[k]--; p.slicing[k] == 0 {
				delete(p.slicing, k)
			}
			p.mu.Unlock()
			return false
		}
		p.mu.Unlock()
		p.putIdle(s, *r)
		*r = nil
	}
}

// waitOn runs slices of reserve-with-timeout on s for tubes while goOn
// says so, on one connection kept from slice to slice.
func (p *Pool) waitOn(s *server, key string, tubes []string) {
	var r *reserver
	for p.goOn(s, key, &r) {
		if r == nil {
			var err error
			if r, err = p.takeReserver(p.ctx, s, tubes); err != nil {
				// A failed dial took s for dead; an error reply to watch
				// goes to the oldest taker, as below.
				if e := (*Error)(nil); errors.As(err, &e) {
					p.give(key, waitResult{err: err})
				}
				p.quit(s, key)
				return
			}
		}
		j, info, claimed, err := r.reserveOn(p.ctx, p.cfg.ReserveSlice)
		switch {
		case err == nil:
			h := p.newHandle(s, r, j, info, claimed)
			r = nil // the Handle owns it now
			p.deliver(key, h)
		case errors.Is(err, ErrTimedOut):
		case errors.Is(err, ErrClosed):
			p.putIdle(s, r) // closes it
			if p.ctx.Err() == nil {
				p.markDead(s, nil) // the server went away (ignored if it was taken for dead already)
			}
			p.quit(s, key)
			return
		default:
			// An error reply no later slice would avoid: the oldest taker
			// returns it rather than have the wait tried again and again.
			p.putIdle(s, r)
			p.give(key, waitResult{err: err})
			p.quit(s, key)
			return
		}
	}
}

// quit stops counting a wait on s for key that ended on an error.
func (p *Pool) quit(s *server, key string) {
	k := sliceKey{s, key}
	p.mu.Lock()
	if p.slicing[k]--; p.slicing[k] == 0 {
		delete(p.slicing, k)
	}
	p.mu.Unlock()
	p.liveChanged.signal() // the takers look again at what is live
}

// deliver gives h, just reserved for tubes key, to the oldest taker of key,
// or keeps it as a spare.
func (p *Pool) deliver(key string, h *Handle) {
	if p.give(key, waitResult{h: h}) {
		return
	}
	p.keepSpare(key, h)
}

// give hands res to the oldest taker of key, if there is one.
func (p *Pool) give(key string, res waitResult) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.giveLocked(key, res)
}

// giveLocked is give with p.mu held.
func (p *Pool) giveLocked(key string, res waitResult) bool {
	ts := p.takers[key]
	if len(ts) == 0 {
		return false
	}
	ts[0].got <- res
	if p.takers[key] = ts[1:]; len(p.takers[key]) == 0 {
		delete(p.takers, key)
	}
	return true
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
