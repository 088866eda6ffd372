package broker

import (
	"context"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Reserve takes the most urgent ready job (lowest priority, then lowest id)
// of the watched tubes that are not paused and reserves it for this session
// for the job's TTR.
//
// If there is none it blocks until a job becomes ready, timeout elapses
// (ErrTimedOut; timeout < 0 waits forever, 0 does not wait), one of this
// session's reserved jobs comes within DeadlineSafetyMargin of its TTR
// (ErrDeadlineSoon, also answered at once if that is already so), ctx is
// done (ctx.Err()), or the session or broker is closed (ErrClosed).
// Sessions blocked on a tube are served in the order they started waiting.
// If a job was handed over just as ctx ended, the job is returned.
func (s *Session) Reserve(ctx context.Context, timeout time.Duration) (Reserved, error) {
	b := s.b
	b.mu.Lock()
	if b.closed || s.closed {
		b.mu.Unlock()
		return Reserved{}, ErrClosed
	}
	if !s.worker {
		s.worker = true
		b.nWorkers++
	}
	now := b.now()
	if r := s.bestReady(now); r != nil {
		b.reserve(s, r, now)
		res := reserved(r)
		b.mu.Unlock()
		return res, nil
	}
	if s.deadlineSoon(now) {
		b.mu.Unlock()
		return Reserved{}, ErrDeadlineSoon
	}
	if timeout == 0 {
		b.mu.Unlock()
		return Reserved{}, ErrTimedOut
	}
	select { // a stale signal from an earlier wait
	case <-s.signal:
	default:
	}
	s.res, s.resErr = Reserved{}, nil
	s.waiting = true
	b.nWaiting++
	if cap(s.nodes) < len(s.watch) {
		s.nodes = make([]waitNode, len(s.watch))
	}
	s.nodes = s.nodes[:len(s.watch)]
	for i, t := range s.watch {
		s.nodes[i].s = s
		t.addWaiter(&s.nodes[i])
		if t.pol != nil && t.pol.Rate != nil {
			b.retickTube(t) // wake it when a token is due
		}
	}
	s.hasTimeout = timeout > 0
	if s.hasTimeout {
		s.timeoutAt = now.Add(timeout)
	}
	b.retickSession(s)
	b.mu.Unlock()

	select {
	case <-s.signal:
	case <-ctx.Done():
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if s.waiting { // ctx ended first
		b.unwait(s)
		b.retickSession(s)
		return Reserved{}, ctx.Err()
	}
	res, err := s.res, s.resErr
	s.res, s.resErr = Reserved{}, nil
	return res, err
}

// bestReady returns the most urgent ready job of the watched tubes that are
// not paused and have no earlier waiter, or nil.
func (s *Session) bestReady(now time.Time) *rec {
	var best *rec
	for _, t := range s.watch {
		r := t.ready.top()
		if r == nil || t.paused(now) || t.waitHead != nil {
			// (a tube whose pause just ended still owes its ready jobs
			// to the sessions that waited first; the timer hands them out)
			continue
		}
		if lim := s.b.limitHolds(t, now); lim != "" {
			noteHeld(t, lim)
			continue
		}
		if best == nil || r.Priority < best.Priority || (r.Priority == best.Priority && r.ID < best.ID) {
			best = r
		}
	}
	return best
}

// deadlineSoon reports whether one of the session's reserved jobs is within
// DeadlineSafetyMargin of its TTR at now.
func (s *Session) deadlineSoon(now time.Time) bool {
	r := s.reserved.top()
	return r != nil && !now.Before(r.Deadline.Add(-DeadlineSafetyMargin))
}

// unwait takes a blocked session out of the wait lists.
func (b *Broker) unwait(s *Session) {
	for i := range s.nodes {
		if n := &s.nodes[i]; n.t != nil {
			n.t.removeWaiter(n)
		}
		s.nodes[i].s = nil
	}
	s.waiting = false
	s.hasTimeout = false
	b.nWaiting--
}

// wake answers a blocked Reserve with r (already reserved for s) or err.
func (b *Broker) wake(s *Session, r *rec, err error) {
	b.unwait(s)
	if r != nil {
		s.res = reserved(r)
	}
	s.resErr = err
	select {
	case s.signal <- struct{}{}:
	default:
	}
	b.retickSession(s)
}

// retickSession recomputes when the timer must next look at s: its
// soonest TTR, or — while it is blocked in reserve — that TTR less the
// safety margin or its reserve timeout, whichever is first.
func (b *Broker) retickSession(s *Session) {
	var at int64
	ok := false
	if r := s.reserved.top(); r != nil {
		at = r.Deadline.UnixNano()
		if s.waiting {
			at -= int64(DeadlineSafetyMargin)
		}
		ok = true
	}
	if s.waiting && s.hasTimeout {
		if x := s.timeoutAt.UnixNano(); !ok || x < at {
			at = x
		}
		ok = true
	}
	if !ok {
		b.sessTicks.remove(s)
		return
	}
	if s.tidx >= 0 && s.tick == at {
		return
	}
	s.tick = at
	b.sessTicks.set(s)
	b.arm(at)
}

// sessionDue handles what is due for s at now: TTRs that expired (the job
// returns to ready, or fails on a tube with a retry policy), then the answer
// to a blocked Reserve whose job is close to its deadline (DEADLINE_SOON)
// or whose timeout passed (TIMED_OUT) — in beanstalkd's order.
func (b *Broker) sessionDue(s *Session, now time.Time, cs *[]journal.Commit) {
	soon := s.waiting && s.deadlineSoon(now)
	for r := s.reserved.top(); r != nil && !r.Deadline.After(now); r = s.reserved.top() {
		b.jobTimeouts++
		b.unplace(r)
		r.Timeouts++
		if b.failOnTimeout(cs, r, now) {
			continue
		}
		r.State = job.Ready
		r.Deadline = time.Time{}
		b.place(r, now)
	}
	if s.waiting {
		if soon {
			b.wake(s, nil, ErrDeadlineSoon)
		} else if s.hasTimeout && !now.Before(s.timeoutAt) {
			b.wake(s, nil, ErrTimedOut)
		}
	}
	b.retickSession(s)
}
