package broker

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/retry"
)

// rec is the engine's record of one job: the job itself plus where the
// engine keeps it. Kept small: one is held per queued job.
type rec struct {
	job.Job
	tube  *tube
	owner *Session // the session that reserved it, while Reserved
	idx   int      // position in the heap of its state
	seq   uint64   // burial order, while Buried
	// reservedAt is when it was last reserved (for Observer.Finished), in
	// nanoseconds since the broker started: 8 bytes where a time.Time takes
	// 24, which keeps rec at 192 bytes (recbody.go).
	reservedAt int64
}

// Broker is the job engine: tubes, their heaps, reservations, timers. It is
// safe for concurrent use; callers speak to it through Sessions.
//
// Locking: one mutex, Broker.mu, protects all engine state — the job table,
// every tube, the engine-side fields of every Session, the timer heaps and
// the counters. Nothing else is locked inside the engine, so there is no
// lock order to respect. The Journal is called while mu is held (so the
// log sees changes in the order they happen); its Commits are waited on
// after mu is released. The clock's timer callback takes mu itself.
type Broker struct {
	clock      clock.Clock
	journal    journal.Journal
	log        *slog.Logger
	maxJobSize int
	started    time.Time

	// mu protects everything below.
	mu sync.Mutex

	jobs   jobTable
	nextID job.ID // the last id given out

	tubes               map[string]*tube
	firstTube, lastTube *tube // creation order
	dflt                *tube

	firstSess, lastSess *Session // open sessions

	// tubeTicks and sessTicks order tubes and sessions by when the timer
	// must next look at them; timer is armed for the earliest (timerAt).
	tubeTicks tickHeap[*tube]
	sessTicks tickHeap[*Session]
	timer     clock.Timer
	timerAt   int64
	timerGen  uint64
	// timers counts timer callbacks that may still run; Close waits for
	// them (the engine owns the goroutines the clock starts for it).
	timers sync.WaitGroup

	burySeq   uint64
	closed    bool
	draining  bool
	restoring bool // inside Restore: retention waits for the first tick

	policies *policySet   // failure policies; nil: none
	freed    []*tube      // tubes whose concurrency slots freed (limits.go)
	rand     retry.Source // jitter of retry delays
	observer Observer     // nil: none

	scheds []*schedState        // periodic jobs (schedule.go)
	ticks  map[string]time.Time // last tick fired, per schedule name

	// Counters for ServerStats.
	nUrgent, nReady, nReserved, nDelayed, nBuried int
	jobTimeouts, totalJobs                        uint64
	nConns, nProducers, nWorkers, nWaiting        int
	totalConns                                    uint64
	failures, gaveUp, expired                     uint64
}

// New returns a Broker configured by cfg, with the "default" tube.
func New(cfg Config) *Broker {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.MaxJobSize <= 0 {
		cfg.MaxJobSize = 65535
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	b := &Broker{
		clock:      cfg.Clock,
		journal:    cfg.Journal,
		log:        cfg.Logger,
		maxJobSize: cfg.MaxJobSize,
		rand:       cfg.Rand,
		observer:   cfg.Observer,
		jobs:       newJobTable(0),
		tubes:      make(map[string]*tube),
		ticks:      make(map[string]time.Time),
	}
	if b.log == nil {
		b.log = defaultLogger()
	}
	b.started = b.clock.Now()
	b.dflt = b.tube("default", true)
	b.initPolicies(cfg)
	return b
}

// MaxJobSize returns the largest body accepted, in bytes.
func (b *Broker) MaxJobSize() int { return b.maxJobSize }

// Close stops the engine's timer (waiting for a callback in flight) and
// wakes every blocked Reserve with ErrClosed; later Puts and Reserves
// return ErrClosed. Jobs stay in memory (and in the journal). It must not
// be called from a Journal or clock callback.
func (b *Broker) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.stopTimer()
	for s := b.firstSess; s != nil; s = s.next {
		if s.waiting {
			b.wake(s, nil, ErrClosed)
		}
	}
	b.mu.Unlock()
	b.timers.Wait()
}

// SetDraining turns drain mode on or off: while on, Put answers
// ErrDraining; everything else works.
func (b *Broker) SetDraining(on bool) {
	b.mu.Lock()
	was := b.draining
	b.draining = on
	if was && !on {
		b.endDrain(b.now())
	}
	b.mu.Unlock()
}

// journalOp names a change told to the Journal.
type journalOp uint8

const (
	opPut journalOp = iota
	opUpdate
	opDelete
)

// record is the one place where the engine tells the Journal of a change
// of a job. It is called with mu held, in the order the changes happen; the
// Commit is appended to cs for the caller to wait on after unlocking (cs
// nil: a change nobody is answered for, such as a retention expiry). An
// error means the change could not be logged; the caller undoes it and
// answers ErrOutOfMemory.
//
// Reserving a job and touching it are not recorded: a job that was
// reserved comes back ready after a restart, whatever its deadline was, so
// the log need not follow reservations (beanstalkd does the same).
func (b *Broker) record(cs *[]journal.Commit, op journalOp, r *rec) error {
	if b.journal == nil {
		return nil
	}
	var c journal.Commit
	var err error
	switch op {
	case opPut:
		c, err = b.journal.Put(&r.Job)
	case opUpdate:
		c, err = b.journal.Update(&r.Job)
	case opDelete:
		c, err = b.journal.Delete(r.ID)
	}
	if err != nil {
		return err
	}
	if c != nil && cs != nil {
		*cs = append(*cs, c)
	}
	return nil
}

// waitCommits waits for the journal writes of one operation; it is called
// without mu. It returns ErrOutOfMemory if any of them failed.
func waitCommits(cs []journal.Commit) error {
	var failed bool
	for i, c := range cs {
		if c.Wait() != nil {
			failed = true
		}
		cs[i] = nil
	}
	if failed {
		return ErrOutOfMemory
	}
	return nil
}

// place puts r into the structure of its state and counts it there. A
// ready job may be handed at once to a session blocked in reserve.
func (b *Broker) place(r *rec, now time.Time) {
	t := r.tube
	switch r.State {
	case job.Ready:
		t.ready.push(r)
		b.nReady++
		if isUrgent(r) {
			t.urgent++
			b.nUrgent++
		}
		b.noteReady(t, r, now)
		if t.waitHead != nil {
			b.dispatch(t, now)
		}
	case job.Delayed:
		t.delay.push(r)
		b.nDelayed++
		if r.idx == 0 {
			b.retickTube(t)
		}
	case job.Buried:
		b.burySeq++
		r.seq = b.burySeq
		t.buried.push(r)
		t.buriedBytes += len(r.Body)
		b.nBuried++
		b.noteBuried(t, r, now)
	case job.Reserved:
		s := r.owner
		s.reserved.push(r)
		t.nReserv++
		b.nReserved++
		if r.idx == 0 {
			b.retickSession(s)
		}
	}
}

// unplace takes r out of the structure of its state and its counts.
func (b *Broker) unplace(r *rec) {
	t := r.tube
	switch r.State {
	case job.Ready:
		t.ready.remove(r)
		b.nReady--
		if isUrgent(r) {
			t.urgent--
			b.nUrgent--
		}
	case job.Delayed:
		first := r.idx == 0
		t.delay.remove(r)
		b.nDelayed--
		if first {
			b.retickTube(t)
		}
	case job.Buried:
		first := r.idx == 0
		t.buried.remove(r)
		t.buriedBytes -= len(r.Body)
		b.nBuried--
		if first {
			b.retickTube(t)
		}
	case job.Reserved:
		s := r.owner
		first := r.idx == 0
		s.reserved.remove(r)
		t.nReserv--
		b.nReserved--
		r.owner = nil
		b.slotFreed(t)
		if first {
			b.retickSession(s)
		}
	}
}

// dispatch hands t's ready jobs to the sessions blocked on it, earliest
// waiter first, while both last and t is not paused.
func (b *Broker) dispatch(t *tube, now time.Time) {
	for t.waitHead != nil && t.ready.len() > 0 {
		if t.paused(now) {
			return
		}
		if b.limitHolds(t, now) != "" {
			b.retickTube(t) // a rate limit: the timer serves them when a token is due
			return
		}
		s := t.waitHead.s
		r := t.ready.top()
		b.reserve(s, r, now)
		b.wake(s, r, nil)
	}
}

// reserve gives r, which is Ready, Delayed or Buried, to s.
func (b *Broker) reserve(s *Session, r *rec, now time.Time) {
	b.unplace(r)
	b.takeToken(r.tube, now)
	if !s.worker {
		s.worker = true
		b.nWorkers++
	}
	r.State = job.Reserved
	r.Deadline = now.Add(r.TTR)
	r.Reserves++
	r.owner = s
	r.reservedAt = int64(now.Sub(b.started))
	b.place(r, now)
	if r.tube.obs != nil {
		r.tube.obs.Reserved(now.Sub(r.Created))
	}
}

// drop forgets r after it was unplaced.
func (b *Broker) drop(r *rec) {
	b.unindex(r.tube, r)
	b.jobs.remove(r.ID)
	r.State = 0
	b.maybeDrop(r.tube)
}

// ranFor returns how long r has been reserved at end.
func (b *Broker) ranFor(r *rec, end time.Time) time.Duration {
	return end.Sub(b.started) - time.Duration(r.reservedAt)
}
