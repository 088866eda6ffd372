package client

import (
	"math/rand/v2"
	"sync"
	"time"
)

// server is one server of a Pool.
type server struct {
	addr  string
	slots chan struct{} // a put in flight holds one; capacity MaxInFlight

	mu         sync.Mutex // protects every field below
	conn       *Conn      // the producing connection, nil while dead
	live       bool
	liveSince  time.Time
	avoidUntil time.Time          // a draining or full server gets no puts until then
	failures   int                // consecutive failed lives, for backoff
	idle       []*reserver        // idle reserving connections
	busy       map[*reserver]bool // reserving connections in use (waiting, or holding a job)
	puts       uint64
	deaths     uint64
	redials    uint64
}

// reserver is a reserving connection and the tubes it watches. Only the
// goroutine that took it from the idle list uses it.
type reserver struct {
	c       *Conn
	watched []string
	noClaim bool // the server answered claim UNKNOWN_COMMAND: reserve-with-timeout
}

// producer returns the server's producing connection if it is live and
// not to be avoided.
func (s *server) producer(now time.Time) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live || now.Before(s.avoidUntil) {
		return nil
	}
	return s.conn
}

// isLive reports whether the server is taken for live.
func (s *server) isLive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// markDead takes s for dead because c failed (c nil: whatever connection
// it has), closes its connections and starts re-dialing it. A failure of a
// connection already replaced is ignored.
func (p *Pool) markDead(s *server, c *Conn) {
	p.takeForDead(s, c, false)
}

// markDeadKeeping is markDead after a put timed out on c: c stays open for
// one more PutTimeout, so that the late answers of puts in flight on it
// can still be read (see undoLate), and is closed after that.
func (p *Pool) markDeadKeeping(s *server, c *Conn) {
	p.takeForDead(s, c, true)
}

// takeForDead is markDead, keeping the producing connection open for one
// more PutTimeout if keep is set.
func (p *Pool) takeForDead(s *server, c *Conn, keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live || (c != nil && c != s.conn) {
		return
	}
	s.live = false
	s.deaths++
	if old := s.conn; keep {
		p.spawn(func() {
			woke := make(chan struct{})
			t := p.cfg.clock.AfterFunc(p.cfg.PutTimeout, func() { close(woke) })
			select {
			case <-woke:
			case <-p.ctx.Done():
				t.Stop()
			}
			old.Close()
		})
	} else {
		old.Close()
	}
	s.conn = nil
	s.closeReservers()
	if p.cfg.clock.Now().Sub(s.liveSince) >= p.cfg.RedialMax {
		s.failures = 0 // it had been up a good while: start the backoff over
	}
	p.startRedial(s)
	p.liveChanged.signal()
}

// startRedial starts the goroutine that reconnects s; s.mu is held.
func (p *Pool) startRedial(s *server) {
	p.spawn(func() { p.redial(s) })
}

// backoff returns the wait before reconnection attempt n (0-based).
func (p *Pool) backoff(n int) time.Duration {
	d := p.cfg.RedialMin
	for i := 0; i < n && d < p.cfg.RedialMax; i++ {
		d *= 2
	}
	d = min(d, p.cfg.RedialMax)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// redial reconnects s with backoff until it succeeds or the pool closes.
func (p *Pool) redial(s *server) {
	for {
		s.mu.Lock()
		wait := p.backoff(s.failures)
		s.mu.Unlock()
		woke := make(chan struct{})
		t := p.cfg.clock.AfterFunc(wait, func() { close(woke) })
		select {
		case <-woke:
		case <-p.ctx.Done():
			t.Stop()
			return
		}
		c, err := p.dial(p.ctx, s.addr)
		s.mu.Lock()
		s.redials++
		if err != nil {
			s.failures++
			s.mu.Unlock()
			continue
		}
		if p.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conn, s.live, s.liveSince = c, true, p.cfg.clock.Now()
		s.failures++ // until it has stayed up RedialMax
		s.mu.Unlock()
		p.slotFreed.signal()
		p.serverUp.signal()
		p.liveChanged.signal()
		return
	}
}

// closeReservers closes every reserving connection of s; s.mu is held.
// Jobs held through them go back to the server's ready queue.
func (s *server) closeReservers() {
	for _, r := range s.idle {
		r.c.Close()
	}
	s.idle = nil
	for r := range s.busy {
		r.c.Close()
	}
}
