package broker

import (
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// The engine has one timer (clock.AfterFunc), armed for the earliest time
// at which some tube or session needs attention: a delayed job becoming
// ready, a pause ending, a TTR expiring, a blocked reserve timing out or
// getting DEADLINE_SOON, a retention or ready-expiry deadline. Tubes and
// sessions sit in two heaps ordered by that time, so arming is O(1) and
// updating O(log n); nothing polls and no goroutine waits per job.
//
// The timer is re-armed only when something needs it earlier than it is
// armed for; when it fires early (what it was armed for went away) it
// simply finds nothing due and re-arms for what is next.

// now returns the clock's time without a monotonic reading, so that every
// comparison is on the same wall-clock scale as restored deadlines.
func (b *Broker) now() time.Time { return b.clock.Now().Round(0) }

// arm makes sure the timer fires no later than at (unix ns).
func (b *Broker) arm(at int64) {
	if b.closed || (b.timer != nil && b.timerAt <= at) {
		return
	}
	b.stopTimer()
	b.timerGen++
	gen := b.timerGen
	d := time.Duration(at - b.now().UnixNano())
	if d < 0 {
		d = 0
	}
	b.timerAt = at
	b.timers.Add(1)
	b.timer = b.clock.AfterFunc(d, func() {
		defer b.timers.Done()
		b.fire(gen)
	})
}

// stopTimer cancels the armed timer; if it already fired, its callback
// runs, finds what is due (or that the broker is closed) and returns.
func (b *Broker) stopTimer() {
	if b.timer != nil && b.timer.Stop() {
		b.timers.Done()
	}
	b.timer = nil
}

// armNext arms the timer for the earliest tube or session tick, if any.
func (b *Broker) armNext() {
	if t, ok := b.tubeTicks.top(); ok {
		b.arm(t.tick)
	}
	if s, ok := b.sessTicks.top(); ok {
		b.arm(s.tick)
	}
	b.armSchedules()
}

// fire is the timer's callback: it handles everything due, re-arms, and
// waits for the journal writes it caused.
func (b *Broker) fire(gen uint64) {
	b.mu.Lock()
	if gen == b.timerGen {
		b.timer = nil
	}
	if b.closed {
		b.mu.Unlock()
		return
	}
	now := b.now()
	n := now.UnixNano()
	var cs []journal.Commit
	for {
		t, ok := b.tubeTicks.top()
		if !ok || t.tick > n {
			break
		}
		b.tubeDue(t, now, &cs)
		if t.tidx >= 0 && t.tick <= n {
			b.tubeTicks.remove(t) // made no progress: never spin
		}
	}
	for {
		s, ok := b.sessTicks.top()
		if !ok || s.tick > n {
			break
		}
		b.sessionDue(s, now, &cs)
		if s.tidx >= 0 && s.tick <= n {
			b.sessTicks.remove(s)
		}
	}
	b.schedulesDue(now, &cs)
	b.serveFreed(now)
	b.armNext()
	b.mu.Unlock()
	_ = waitCommits(cs) // nobody to answer; the log reports its own errors
}

// tubeDue handles what is due for t at now: delayed jobs whose delay is
// over become ready, an ended pause lets waiting sessions have the ready
// jobs, and the policy's retention and ready-expiry deadlines are applied.
func (b *Broker) tubeDue(t *tube, now time.Time, cs *[]journal.Commit) {
	for r := t.delay.top(); r != nil && !r.Deadline.After(now); r = t.delay.top() {
		b.unplace(r)
		r.State = job.Ready
		r.Deadline = time.Time{}
		b.place(r, now)
	}
	if t.pause > 0 && !now.Before(t.pauseEnd) {
		t.pause = 0
		t.pauseEnd = time.Time{}
		b.dispatch(t, now)
	}
	b.policyDue(t, now, cs)
	b.retickTube(t)
}
