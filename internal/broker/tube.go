package broker

import (
	"time"

	"github.com/reprieve/reprieve/internal/policy"
)

// urgentPriority is beanstalkd's URGENT_THRESHOLD: ready jobs with a
// priority below it count as urgent in the stats.
const urgentPriority = 1024

// tube is one named queue: its ready, delayed and buried jobs, the sessions
// blocked in reserve on it, and its counters. Every field is protected by
// Broker.mu.
type tube struct {
	name string
	obs  TubeObserver // the observer's handle of this tube; nil: none

	ready   jobHeap // byPriority
	delay   jobHeap // byDeadline
	buried  jobHeap // bySeq
	nReserv int     // jobs of this tube reserved by some session

	// waitHead and waitTail list the sessions blocked in reserve that
	// watch this tube, in the order they started waiting.
	waitHead, waitTail *waitNode
	nWait              int

	using, watching int // sessions that use / watch it
	pending         int // puts waiting for their journal commit
	urgent          int // ready jobs with priority < urgentPriority
	buriedBytes     int // body bytes of the buried jobs (retention)

	totalJobs, cmdDelete, cmdPause uint64
	expired                        uint64 // jobs dropped by retention or ready-expiry
	failures, gaveUp               uint64

	// pause is the duration of the current pause (0 when not paused) and
	// pauseEnd when it ends.
	pause    time.Duration
	pauseEnd time.Time

	// expq lists ready jobs in the order they became ready, for tubes with
	// a ready-expiry window; entries of jobs that left the ready state
	// since are skipped lazily.
	expq    []expEntry
	expHead int

	// pol is the tube's failure policy; nil: plain beanstalkd behaviour.
	pol *policy.Policy
	// limits is its flow-control state (limits.go), nil until needed;
	// freed is set while it is listed in Broker.freed.
	limits *limits
	freed  bool

	// prev and next link all tubes in creation order.
	prev, next *tube

	dropped bool // removed from the broker; kept only by stale pointers

	tick int64 // when the timer must next look at this tube (unix ns)
	tidx int   // position in Broker.tubeTicks, -1 if not in it
}

// expEntry is one ready job in a tube's ready-expiry queue. reserves
// identifies the ready period: a job leaves the ready state only by being
// reserved (which counts) or deleted (which clears its state).
type expEntry struct {
	r        *rec
	at       time.Time
	reserves uint32
}

func (t *tube) tickTime() int64 { return t.tick }
func (t *tube) tickIndex() *int { return &t.tidx }

func newTube(name string) *tube {
	return &tube{
		name:   name,
		ready:  jobHeap{kind: byPriority},
		delay:  jobHeap{kind: byDeadline},
		buried: jobHeap{kind: bySeq},
		tidx:   -1,
	}
}

// jobs counts the jobs that belong to the tube, in any state.
func (t *tube) jobs() int {
	return t.ready.len() + t.delay.len() + t.buried.len() + t.nReserv
}

// paused reports whether the tube gives no jobs at now.
func (t *tube) paused(now time.Time) bool {
	return t.pause > 0 && now.Before(t.pauseEnd)
}

// waitNode links a waiting session into the waiting list of one tube it
// watches.
type waitNode struct {
	s          *Session
	t          *tube
	prev, next *waitNode
}

func (t *tube) addWaiter(n *waitNode) {
	n.t = t
	n.prev, n.next = t.waitTail, nil
	if t.waitTail != nil {
		t.waitTail.next = n
	} else {
		t.waitHead = n
	}
	t.waitTail = n
	t.nWait++
}

func (t *tube) removeWaiter(n *waitNode) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		t.waitHead = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		t.waitTail = n.prev
	}
	n.prev, n.next, n.t = nil, nil, nil
	t.nWait--
}

// tube returns the tube called name, creating it if create is set; nil if
// it does not exist and create is not set.
func (b *Broker) tube(name string, create bool) *tube {
	if t := b.tubes[name]; t != nil {
		return t
	}
	if !create {
		return nil
	}
	t := newTube(name)
	t.pol = b.policies.forTube(name)
	b.tubes[name] = t
	if b.lastTube != nil {
		b.lastTube.next = t
		t.prev = b.lastTube
	} else {
		b.firstTube = t
	}
	b.lastTube = t
	if b.observer != nil {
		t.obs = b.observer.Tube(name)
	}
	return t
}

// maybeDrop removes t if nothing refers to it any more: no job, no session
// using or watching it, no put in flight. "default" always stays.
func (b *Broker) maybeDrop(t *tube) {
	if t == b.dflt || t.using > 0 || t.watching > 0 || t.pending > 0 || t.jobs() > 0 {
		return
	}
	delete(b.tubes, t.name)
	t.dropped = true
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		b.firstTube = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		b.lastTube = t.prev
	}
	t.prev, t.next = nil, nil
	b.tubeTicks.remove(t)
	if t.obs != nil {
		t.obs.Dropped(b.now())
	}
}

// retickTube recomputes when the timer must next look at t (the earliest
// of its first delayed job, the end of its pause, its retention and
// ready-expiry deadlines) and re-arms the timer if that is earlier than
// what it is armed for.
func (b *Broker) retickTube(t *tube) {
	if t.dropped {
		return
	}
	var at int64
	ok := false
	earliest := func(x time.Time) {
		n := x.UnixNano()
		if !ok || n < at {
			at, ok = n, true
		}
	}
	if r := t.delay.top(); r != nil {
		earliest(r.Deadline)
	}
	if t.pause > 0 {
		earliest(t.pauseEnd)
	}
	if x, has := b.policyTick(t); has {
		earliest(x)
	}
	if !ok {
		b.tubeTicks.remove(t)
		return
	}
	if t.tidx >= 0 && t.tick == at {
		return
	}
	t.tick = at
	b.tubeTicks.set(t)
	b.arm(at)
}

func isUrgent(r *rec) bool { return r.Priority < urgentPriority }
