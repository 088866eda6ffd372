package broker

import (
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
)

// Periodic jobs: the policy file's schedules, fired by the engine's timer.
// The engine keeps, per schedule name, the last tick it fired (ticks),
// restored from the log at start (RestoreTicks) and written to it at each
// tick (journal.Ticker), so the state is the engine's and the log's, not
// a goroutine's.
//
// Rules:
//   - a schedule fires one job at each tick of its cron expression;
//   - a schedule never fired before (new in the file) starts at its first
//     tick after it was loaded;
//   - ticks missed while no server ran it (between the last tick in the
//     log and the start) follow its catch-up rule: skip drops them, once
//     puts one job at the start for all of them;
//   - ticks that come due in drain mode wait; when drain mode ends they
//     follow the catch-up rule (skip: dropped; once: one job);
//   - when the clock jumps over several ticks while running, only the
//     newest fires;
//   - a reload keeps the state of a schedule whose definition did not
//     change; a changed one goes on from its next tick after the reload.

// schedState is one installed schedule; its fields are protected by mu.
type schedState struct {
	s     *policy.Schedule
	next  time.Time // when it fires next; zero: never
	fired uint64    // jobs put by it since it was installed
}

// ScheduleStatus is a schedule as the engine runs it.
type ScheduleStatus struct {
	Name, Cron, Timezone, Tube string
	CatchUp                    string
	// Next is when it fires next (zero: not until drain mode ends); Last
	// is the last tick fired, from the log or this run (zero: never).
	Next, Last time.Time
	// Fired counts the jobs it put since the server started.
	Fired uint64
}

// Schedules returns the installed schedules in file order.
func (b *Broker) Schedules() []ScheduleStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]ScheduleStatus, 0, len(b.scheds))
	for _, st := range b.scheds {
		ss := ScheduleStatus{Name: st.s.Name, Cron: st.s.Cron, Timezone: st.s.Location.String(), Tube: st.s.Tube,
			CatchUp: st.s.CatchUp.String(), Last: b.ticks[st.s.Name], Fired: st.fired}
		if !b.draining {
			ss.Next = st.next
		}
		out = append(out, ss)
	}
	return out
}

// RestoreTicks hands the engine the last tick of each schedule as the log
// kept it, before serving (after Restore); missed ticks then follow each
// schedule's catch-up rule.
func (b *Broker) RestoreTicks(ticks map[string]time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, at := range ticks {
		b.ticks[name] = at.Round(0)
	}
	now := b.now()
	for _, st := range b.scheds {
		b.plan(st, now, true)
	}
	b.armSchedules()
}

// setSchedules installs list (a reload keeps the state of unchanged
// schedules).
func (b *Broker) setSchedules(list []*policy.Schedule, now time.Time) {
	old := map[string]*schedState{}
	for _, st := range b.scheds {
		old[st.s.Name] = st
	}
	b.scheds = b.scheds[:0]
	for _, s := range list {
		if o := old[s.Name]; o != nil && o.s.Equal(s) {
			o.s = s
			b.scheds = append(b.scheds, o)
			continue
		}
		st := &schedState{s: s}
		b.plan(st, now, false)
		b.scheds = append(b.scheds, st)
	}
	b.armSchedules()
}

// plan sets when st fires next at now; atStart applies the catch-up rule
// to the ticks missed since the last one in the log.
func (b *Broker) plan(st *schedState, now time.Time, atStart bool) {
	last, ok := b.ticks[st.s.Name]
	if !ok || !atStart {
		st.next = st.s.Next(now)
		return
	}
	first := st.s.Next(last)
	switch {
	case first.After(now):
		st.next = first
	case st.s.CatchUp == policy.Once:
		st.next = now
	default:
		st.next = st.s.Next(now)
	}
}

// endDrain applies the catch-up rule to the ticks that came due in drain
// mode.
func (b *Broker) endDrain(now time.Time) {
	for _, st := range b.scheds {
		if !st.next.After(now) && st.s.CatchUp == policy.Skip {
			st.next = st.s.Next(now)
		}
	}
	b.armSchedules()
}

// armSchedules makes sure the timer fires for the earliest schedule.
func (b *Broker) armSchedules() {
	if at, ok := b.scheduleTick(); ok {
		b.arm(at)
	}
}

// scheduleTick returns the earliest time a schedule fires (none in drain
// mode: the ticks wait).
func (b *Broker) scheduleTick() (int64, bool) {
	if b.draining {
		return 0, false
	}
	var at int64
	ok := false
	for _, st := range b.scheds {
		if st.next.IsZero() {
			continue
		}
		if n := st.next.UnixNano(); !ok || n < at {
			at, ok = n, true
		}
	}
	return at, ok
}

// schedulesDue fires every schedule due at now.
func (b *Broker) schedulesDue(now time.Time, cs *[]journal.Commit) {
	if b.draining {
		return
	}
	for _, st := range b.scheds {
		if st.next.IsZero() || st.next.After(now) {
			continue
		}
		tick := st.next
		for i := 0; i < 1<<16; i++ { // the newest due tick, if the clock jumped
			n := st.s.Next(tick)
			if n.After(now) {
				break
			}
			tick = n
		}
		b.fireSchedule(st, tick, now, cs)
		st.next = st.s.Next(now)
	}
}

// fireSchedule records tick as st's last and puts its job.
func (b *Broker) fireSchedule(st *schedState, tick, now time.Time, cs *[]journal.Commit) {
	s := st.s
	t := b.tube(s.Tube, true)
	if t.pol != nil && t.pol.Unique != nil {
		if d := b.duplicate(t, s.Body, now); d != nil {
			b.noteTick(s.Name, tick, d.ID)
			return
		}
	}
	r := &rec{
		Job: job.Job{
			ID: b.nextID + 1, Tube: t.name, Body: s.Body, Priority: s.Priority,
			Delay: s.Delay, TTR: s.TTR, Created: now, State: job.Ready,
		},
		tube: t,
		idx:  -1,
	}
	if s.Delay > 0 {
		r.State = job.Delayed
		r.Deadline = now.Add(s.Delay)
	}
	if !b.noteTick(s.Name, tick, r.ID) {
		b.maybeDrop(t)
		return
	}
	if err := b.record(cs, opPut, r); err != nil {
		b.log.Warn("schedule tick lost: the log refused its job", "schedule", s.Name, "tick", tick, "err", err)
		b.maybeDrop(t)
		return
	}
	b.nextID++
	b.insert(r, now)
	st.fired++
}

// noteTick remembers tick as the last of schedule, in the log first; it
// reports false when the log refused it (the tick is then missed).
func (b *Broker) noteTick(schedule string, tick time.Time, id job.ID) bool {
	if tj, ok := b.journal.(journal.Ticker); ok {
		if _, err := tj.Tick(schedule, tick, id); err != nil {
			b.log.Warn("schedule tick missed: the log refused it", "schedule", schedule, "tick", tick, "err", err)
			return false
		}
	}
	b.ticks[schedule] = tick
	return true
}
