package client

import (
	"slices"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// spare is a job a wait reserved when no Reserve was waiting for it: two
// servers answered in the same slice, or the Reserve gave up during the
// slice. It is kept for the next Reserve on the same tubes until its timer
// releases it.
type spare struct {
	h     *Handle
	pri   uint32
	timer clock.Timer
}

// keepSpare keeps h, reserved for tubes key with no taker, as a spare while
// enough of its TTR is left (see PoolConfig.SpareHold), and otherwise
// releases it at once with its priority. It reads both with stats-job on
// h's own connection.
func (p *Pool) keepSpare(key string, h *Handle) {
	st, err := h.r.c.StatsJob(p.ctx, h.ID)
	var ttr time.Duration
	var pri uint64
	if err == nil {
		ttr, err = st.Duration("ttr")
	}
	if err == nil {
		pri, err = st.Uint("pri")
	}
	if err != nil {
		// Without its priority the job cannot be released as it was;
		// closing the connection makes the server put it back as it was.
		h.r.c.Close()
		p.putIdle(h.s, h.r)
		return
	}
	h.mu.Lock()
	h.ttr = ttr
	since := h.since
	h.mu.Unlock()
	hold := min(p.cfg.SpareHold, ttr/2, ttr-2*DeadlineMargin) - p.cfg.clock.Now().Sub(since)

	p.mu.Lock()
	if p.giveLocked(key, waitResult{h: h}) { // a Reserve came meanwhile
		p.mu.Unlock()
		return
	}
	if p.closed || hold <= 0 {
		p.mu.Unlock()
		p.releaseSpare(h, uint32(pri))
		return
	}
	sp := &spare{h: h, pri: uint32(pri)}
	sp.timer = p.cfg.clock.AfterFunc(hold, func() { p.retire(key, sp) })
	p.spares[key] = append(p.spares[key], sp)
	p.mu.Unlock()
}

// retire releases sp when its hold has passed, unless a Reserve took it.
func (p *Pool) retire(key string, sp *spare) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.spares[key], sp)
	if i < 0 {
		return
	}
	p.dropSpareLocked(key, i)
	p.spawnLocked(func() { p.releaseSpare(sp.h, sp.pri) })
}

// dropSpareLocked removes the spare at index i of key; p.mu is held.
func (p *Pool) dropSpareLocked(key string, i int) {
	if p.spares[key] = slices.Delete(p.spares[key], i, i+1); len(p.spares[key]) == 0 {
		delete(p.spares, key)
	}
}

// releaseSpare releases the job of h, which no caller has seen, with its
// priority and no delay, keeping the connection for later reserves.
func (p *Pool) releaseSpare(h *Handle, pri uint32) {
	h.mu.Lock()
	r := h.r
	h.r = nil
	h.mu.Unlock()
	ctx, done := p.withTimeout(p.ctx, p.cfg.PutTimeout, errPutTimeout)
	defer done()
	if err := r.c.Release(ctx, h.ID, pri, 0); err == nil {
		p.released.Add(1)
	}
	p.putIdle(h.s, r)
}

// takeSpare returns the oldest spare of tubes key whose connection is
// sound, or nil.
func (p *Pool) takeSpare(key string) *Handle {
	for {
		p.mu.Lock()
		if len(p.spares[key]) == 0 {
			p.mu.Unlock()
			return nil
		}
		sp := p.spares[key][0]
		p.dropSpareLocked(key, 0)
		sp.timer.Stop()
		p.mu.Unlock()
		h := sp.h
		h.mu.Lock()
		r := h.r
		h.mu.Unlock()
		if r.c.Err() == nil {
			return h
		}
		p.putIdle(h.s, r) // its server went away, and the job went back there
	}
}

// spareCount returns how many spares the pool holds.
func (p *Pool) spareCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, list := range p.spares {
		n += len(list)
	}
	return n
}
