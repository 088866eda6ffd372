package broker

import (
	"strconv"
	"time"

	"github.com/reprieve/reprieve/internal/config"
	"github.com/reprieve/reprieve/internal/policy"
)

// Flow control: a tube's policy may cap how many of its jobs are reserved
// at once (Concurrency) and how fast they are reserved (Rate, a token
// bucket). A limited tube offers no job to a reserve while the limit
// holds, exactly as if it were paused for that reserver; the reserver
// blocks (or times out) like any other, and sessions blocked on the tube
// are served in the order they started waiting when a slot frees (the
// engine serves them before it unlocks) or a token is due (the timer
// fires for it). reserve-job ignores the limits, as it ignores a pause,
// but its reservation counts against them.

// limits is the engine's flow-control state of one tube; it lives as long
// as the tube, whatever its policy becomes.
type limits struct {
	// The rate bucket: tokens left, and when the next one comes back
	// (unix ns; meaningful while tokens < the burst). rate is the policy
	// the bucket was last refilled for and iv its interval, kept so that
	// the hot path divides nothing.
	tokens int
	next   int64
	rate   *policy.Rate
	iv     int64

	// heldConcurrency and heldRate count reserves that found a ready job
	// of the tube but were refused it by that limit; duplicates counts
	// puts answered with the id of a live job (unique).
	heldConcurrency, heldRate, duplicates uint64

	// uniq indexes the tube's jobs by dedupe key (policy Unique); entries
	// are checked when read, so a job that changed state or moved keeps
	// its entry until it is dropped or the key is put again.
	uniq map[uniqueKey]*rec

	// settling holds, for a put still being logged, the puts of its key
	// that wait for its outcome (unique.go, awaitPut).
	settling map[*rec]*settling
}

// lim returns t's flow-control state, creating it.
func (t *tube) lim() *limits {
	if t.limits == nil {
		t.limits = &limits{}
	}
	return t.limits
}

// limitHolds reports which limit keeps t's ready jobs from a reserve at
// now: "" when none does, "concurrency" or "rate". It brings the rate
// bucket up to now, as takeToken expects.
func (b *Broker) limitHolds(t *tube, now time.Time) string {
	p := t.pol
	if p == nil {
		return ""
	}
	if p.Concurrency > 0 && t.nReserv >= p.Concurrency {
		return "concurrency"
	}
	if p.Rate != nil && b.refill(t, now) <= 0 {
		return "rate"
	}
	return ""
}

// refill brings t's rate bucket up to now and returns the tokens in it.
func (b *Broker) refill(t *tube, now time.Time) int {
	r := t.pol.Rate
	l := t.lim()
	if l.rate != r {
		if l.rate == nil {
			l.tokens = r.Burst // a new bucket starts full
		}
		l.rate, l.iv = r, int64(r.Interval())
	}
	if l.tokens >= r.Burst || l.iv <= 0 { // policy.Load refuses iv 0; be safe
		l.tokens = r.Burst // (a reload may have lowered the burst)
		return l.tokens
	}
	n := now.UnixNano()
	if n < l.next {
		return l.tokens
	}
	k := 1
	if n-l.next >= l.iv {
		k = int((n-l.next)/l.iv) + 1
	}
	if k >= r.Burst-l.tokens {
		l.tokens = r.Burst
	} else {
		l.tokens += k
		l.next += int64(k) * l.iv
	}
	return l.tokens
}

// takeToken spends one token of t's rate bucket for a reservation at now;
// the bucket must have been refilled at now (limitHolds).
func (b *Broker) takeToken(t *tube, now time.Time) {
	if t.pol == nil || t.pol.Rate == nil {
		return
	}
	l := t.limits
	if l.tokens >= t.pol.Rate.Burst {
		l.next = now.UnixNano() + l.iv
	}
	l.tokens--
}

// noteHeld counts a reserve refused a job of t by limit.
func noteHeld(t *tube, limit string) {
	l := t.lim()
	if limit == "concurrency" {
		l.heldConcurrency++
	} else {
		l.heldRate++
	}
}

// limitTick returns when t's rate bucket next lets a blocked reserver
// have a job, if it has waiters, ready jobs and no token.
func (b *Broker) limitTick(t *tube) (time.Time, bool) {
	p := t.pol
	if p == nil || p.Rate == nil || t.waitHead == nil || t.ready.len() == 0 || t.limits == nil || t.limits.rate == nil {
		return time.Time{}, false
	}
	if t.limits.tokens > 0 {
		return time.Time{}, false
	}
	return time.Unix(0, t.limits.next), true
}

// slotFreed notes that a reserved job of t left the reserved state; if a
// concurrency limit may have kept waiters from t's ready jobs, t is
// served before the engine unlocks (serveFreed).
func (b *Broker) slotFreed(t *tube) {
	if t.pol == nil || t.pol.Concurrency == 0 || t.waitHead == nil || t.freed {
		return
	}
	t.freed = true
	b.freed = append(b.freed, t)
}

// serveFreedNow is serveFreed for a caller that has not read the clock:
// it reads it only when there is something to serve.
func (b *Broker) serveFreedNow() {
	if len(b.freed) > 0 {
		b.serveFreed(b.now())
	}
}

// serveFreed hands ready jobs to the sessions waiting on the tubes whose
// concurrency slots freed since the last call. Every operation that can
// end a reservation calls it before it unlocks.
func (b *Broker) serveFreed(now time.Time) {
	for len(b.freed) > 0 {
		t := b.freed[len(b.freed)-1]
		b.freed = b.freed[:len(b.freed)-1]
		t.freed = false
		if !t.dropped {
			b.dispatch(t, now)
		}
	}
}

// limitStats fills the flow-control keys of t's stats.
func (b *Broker) limitStats(t *tube, ts *TubeStats) {
	if p := t.pol; p != nil {
		ts.LimitConcurrency = p.Concurrency
		if p.Rate != nil {
			ts.LimitRate = strconv.Itoa(p.Rate.Limit) + "/" + config.FormatDuration(p.Rate.Per)
			ts.LimitBurst = p.Rate.Burst
		}
		if p.Unique != nil {
			ts.Unique = p.Unique.Key.String()
		}
	}
	if l := t.limits; l != nil {
		ts.HeldByConcurrency, ts.HeldByRate, ts.Duplicates = l.heldConcurrency, l.heldRate, l.duplicates
	}
}
