package client

import (
	"errors"
	"fmt"
	"time"
)

// DeadlineMargin is beanstalkd's safety margin: a reserved job whose TTR
// ends within it is "deadline soon".
const DeadlineMargin = time.Second

// DeadlineSoonError is Pool.Reserve's error when no job was at hand and a
// Handle of the pool, not finished, has less than DeadlineMargin of its
// TTR left (beanstalkd's DEADLINE_SOON): Touch, Delete, Release or Bury it
// before the server takes the job back. It unwraps to ErrDeadlineSoon.
//
// The pool reckons each Handle's deadline on its own clock, from the job's
// TTR (from the claim that reserved it, or else read once with stats-job
// on the server's producing connection, the first time a Reserve looks
// while the Handle is held) and the moment the
// server's answer to the reserve or to the last Touch arrived: it can be
// later than the server's by the one-way network delay. A Handle whose TTR
// has run out by that reckoning is not reported: the server has taken the
// job back.
type DeadlineSoonError struct {
	// Handle is the due job whose TTR ends first.
	Handle *Handle
}

// Error reads like "reserve: job 7 on 127.0.0.1:11300 has less than 1s of
// its TTR left: client: deadline soon".
func (e *DeadlineSoonError) Error() string {
	return fmt.Sprintf("reserve: job %d on %s has less than %v of its TTR left: %v", e.Handle.ID, e.Handle.Addr, DeadlineMargin, ErrDeadlineSoon)
}

// Unwrap returns ErrDeadlineSoon.
func (e *DeadlineSoonError) Unwrap() error { return ErrDeadlineSoon }

// handOut counts h among the Handles the pool's caller holds.
func (p *Pool) handOut(h *Handle) *Handle {
	p.mu.Lock()
	p.open[h] = struct{}{}
	p.mu.Unlock()
	p.held.signal() // a waiting Reserve looks at its deadline
	return h
}

// finished stops counting h.
func (p *Pool) finished(h *Handle) {
	p.mu.Lock()
	delete(p.open, h)
	p.mu.Unlock()
}

// due is what soonest found: a Handle within DeadlineMargin of the end of
// its TTR, else when the next one will be (zero if none).
type due struct {
	h    *Handle
	next time.Time
}

// soonest looks at the Handles held, reading with stats-job the TTR of
// those it does not know yet. A Handle is due from DeadlineMargin before
// its TTR ends (counted from when the server's answer to the reserve or
// the last touch arrived) until it ends; after that the server has taken
// the job back, and it is not reported.
func (p *Pool) soonest() due {
	p.mu.Lock()
	hs := make([]*Handle, 0, len(p.open))
	for h := range p.open {
		hs = append(hs, h)
	}
	p.mu.Unlock()
	var d due
	var dueEnd time.Time
	for _, h := range hs {
		h.mu.Lock()
		r, since, ttr := h.r, h.since, h.ttr
		h.mu.Unlock()
		if r == nil || r.c.Err() != nil || ttr < 0 {
			continue
		}
		if ttr == 0 {
			if ttr = p.readTTR(h); ttr <= 0 {
				continue
			}
		}
		now := p.cfg.clock.Now()
		end := since.Add(ttr)
		soon := end.Add(-DeadlineMargin)
		switch {
		case !now.Before(end):
		case !now.Before(soon):
			if d.h == nil || end.Before(dueEnd) || (end.Equal(dueEnd) && h.ID < d.h.ID) {
				d.h, dueEnd = h, end
			}
		case d.next.IsZero() || soon.Before(d.next):
			d.next = soon
		}
	}
	if d.h != nil {
		d.next = time.Time{}
	}
	return d
}

// readTTR reads the TTR of h's job with stats-job on its server's
// producing connection (which no reserve blocks) and remembers it; it
// returns 0 if it could not tell, and a negative duration if the job is
// gone.
func (p *Pool) readTTR(h *Handle) time.Duration {
	h.s.mu.Lock()
	c := h.s.conn
	h.s.mu.Unlock()
	if c == nil {
		return 0
	}
	ctx, done := p.withTimeout(p.ctx, p.cfg.PutTimeout, errPutTimeout)
	st, err := c.StatsJob(ctx, h.ID)
	done()
	var ttr time.Duration
	switch {
	case errors.Is(err, ErrNotFound):
		ttr = -1
	case err != nil:
		if c.Err() != nil {
			p.markDead(h.s, c)
		}
		return 0
	default:
		if ttr, err = st.Duration("ttr"); err != nil || ttr <= 0 {
			return 0
		}
	}
	h.mu.Lock()
	if h.ttr == 0 {
		h.ttr = ttr
	}
	h.mu.Unlock()
	return ttr
}
