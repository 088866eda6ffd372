package broker

import (
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Session is one client's view: the tube it uses, the tubes it watches, the
// jobs it has reserved. A Session must be used by one goroutine at a time,
// except Close, which may be called from anywhere.
type Session struct {
	b *Broker

	// The fields below up to signal are protected by b.mu.
	use      *tube
	watch    []*tube
	reserved jobHeap // its reserved jobs, byDeadline
	producer bool    // has put a job (stats current-producers)
	worker   bool    // has reserved (stats current-workers)
	closed   bool

	// A blocked Reserve: waiting is set while the session is in the wait
	// lists (nodes, one per watched tube); whoever answers sets res or
	// resErr, clears waiting and signals.
	waiting    bool
	nodes      []waitNode
	hasTimeout bool
	timeoutAt  time.Time
	res        Reserved
	resErr     error

	tick       int64 // when the timer must next look at it (unix ns)
	tidx       int   // position in Broker.sessTicks, -1 if not in it
	prev, next *Session

	// signal (capacity 1) tells a blocked Reserve that its answer is in.
	signal chan struct{}

	// commits holds the journal writes of the call in progress. Only the
	// goroutine using the session touches it (Close never journals).
	commits []journal.Commit
	// spare is the record allocated with the last BodyBuffer, for the next
	// Put; only the goroutine using the session touches it.
	spare *rec
	// putting is the job of a put StartPut began and FinishPut has not
	// ended, dup a put StartPut found to duplicate a job still being
	// logged; only the goroutine using the session touches them.
	putting *rec
	dup     *dupPut
}

// dupPut is a put of a unique key whose first job is still being logged:
// it is answered with that job's id (id) once w says it is durable.
type dupPut struct {
	w  *settling
	id job.ID
	t  *tube
	// the put itself, made a job of its own if the log refuses the first
	pri        uint32
	delay, ttr time.Duration
	body       []byte
}

func (s *Session) tickTime() int64 { return s.tick }
func (s *Session) tickIndex() *int { return &s.tidx }

// Open returns a new Session using and watching "default"; one per client
// connection. The caller must Close it.
func (b *Broker) Open() *Session {
	s := &Session{
		b:        b,
		reserved: jobHeap{kind: byDeadline},
		tidx:     -1,
		signal:   make(chan struct{}, 1),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.use = b.dflt
	b.dflt.using++
	s.watch = []*tube{b.dflt}
	b.dflt.watching++
	s.prev = b.lastSess
	if b.lastSess != nil {
		b.lastSess.next = s
	} else {
		b.firstSess = s
	}
	b.lastSess = s
	b.nConns++
	b.totalConns++
	return s
}

// Close ends the session: a blocked Reserve returns ErrClosed, its reserved
// jobs return to ready (as when a beanstalkd client hangs up), and the tubes
// it used or watched may disappear. It is idempotent and may be called from
// any goroutine, except while a put StartPut began waits: the goroutine
// using the session then calls it, and it finishes that put first.
func (s *Session) Close() {
	if s.putting != nil {
		// The job is logged; its client goes without the id, as one
		// that hangs up before reading INSERTED.
		_, _ = s.FinishPut()
	}
	s.dup = nil // a duplicate made no job of its own
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.waiting {
		b.wake(s, nil, ErrClosed)
	}
	now := b.now()
	for r := s.reserved.top(); r != nil; r = s.reserved.top() {
		b.unplace(r)
		r.State = job.Ready
		r.Deadline = time.Time{}
		b.place(r, now)
	}
	s.use.using--
	b.maybeDrop(s.use)
	for _, t := range s.watch {
		t.watching--
		b.maybeDrop(t)
	}
	s.watch = nil
	if s.producer {
		b.nProducers--
	}
	if s.worker {
		b.nWorkers--
	}
	b.nConns--
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		b.firstSess = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		b.lastSess = s.prev
	}
	s.prev, s.next = nil, nil
	b.sessTicks.remove(s)
	b.serveFreed(now)
}

// Use makes tube the one Put puts into, creating it if needed.
func (s *Session) Use(tube string) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed || s.use.name == tube {
		return
	}
	t := b.tube(tube, true)
	old := s.use
	s.use = t
	t.using++
	old.using--
	b.maybeDrop(old)
}

// Used returns the name of the tube Put puts into.
func (s *Session) Used() string {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.use.name
}

// Watch adds tube (created if needed) to the tubes Reserve takes jobs from
// and returns how many are watched after.
func (s *Session) Watch(tube string) int {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return len(s.watch)
	}
	for _, t := range s.watch {
		if t.name == tube {
			return len(s.watch)
		}
	}
	t := b.tube(tube, true)
	t.watching++
	s.watch = append(s.watch, t)
	return len(s.watch)
}

// Ignore removes tube from the watched tubes and returns how many are
// watched after; ignoring a tube not watched changes nothing. It returns
// ErrNotIgnored if tube is the only one watched.
func (s *Session) Ignore(tube string) (int, error) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, t := range s.watch {
		if t.name != tube {
			continue
		}
		if len(s.watch) < 2 {
			return len(s.watch), ErrNotIgnored
		}
		s.watch = append(s.watch[:i], s.watch[i+1:]...)
		t.watching--
		b.maybeDrop(t)
		break
	}
	return len(s.watch), nil
}

// Watched returns the names of the watched tubes, in the order they were
// first watched.
func (s *Session) Watched() []string {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	names := make([]string, len(s.watch))
	for i, t := range s.watch {
		names[i] = t.name
	}
	return names
}

// Put inserts a job into the used tube and returns its id. A ttr below one
// second is raised to one second, as beanstalkd does. The body is kept, not
// copied: the caller must not change it afterwards. With a Journal the job
// becomes visible only once its record is durable; ErrOutOfMemory means it
// could not be logged and nothing was kept. ErrDraining in drain mode,
// ErrClosed after Close.
func (s *Session) Put(pri uint32, delay, ttr time.Duration, body []byte) (job.ID, error) {
	id, wait, err := s.StartPut(pri, delay, ttr, body)
	if !wait {
		return id, err
	}
	return s.FinishPut()
}

// StartPut is Put up to the wait for the log, so that one caller can
// start the puts of several sessions and then wait once for the write
// that makes them all durable. If wait is false the put is answered: id
// and err are Put's. If wait is true the job is being logged and is not
// visible yet; the session holds it until FinishPut, which must be called
// before any other call on the session.
func (s *Session) StartPut(pri uint32, delay, ttr time.Duration, body []byte) (id job.ID, wait bool, err error) {
	b := s.b
	r := s.takeRec(body)
	if ttr < time.Second {
		ttr = time.Second
	}
	if delay < 0 {
		delay = 0
	}
	b.mu.Lock()
	if b.closed || s.closed {
		b.mu.Unlock()
		return 0, false, ErrClosed
	}
	if b.draining {
		b.nextID++ // beanstalkd gives the refused job an id all the same
		b.mu.Unlock()
		return 0, false, ErrDraining
	}
	if !s.producer {
		s.producer = true
		b.nProducers++
	}
	now := b.now()
	t := s.use
	if t.pol != nil && t.pol.Unique != nil {
		if d := b.duplicate(t, body, now); d != nil {
			w := b.awaitPut(t, d)
			b.mu.Unlock()
			if w == nil {
				return d.ID, false, nil
			}
			// The job this put duplicates is still being logged: its id
			// is the answer only once it is durable. FinishPut waits for
			// it, not StartPut: the put may be one whose FinishPut the
			// same caller has still to run.
			s.dup = &dupPut{w: w, id: d.ID, t: t, pri: pri, delay: delay, ttr: ttr, body: body}
			return 0, true, nil
		}
	}
	b.nextID++
	*r = rec{
		Job: job.Job{
			ID: b.nextID, Tube: t.name, Body: body, Priority: pri,
			Delay: delay, TTR: ttr, Created: now, State: job.Ready,
		},
		tube: t,
		idx:  -1,
	}
	if delay > 0 {
		r.State = job.Delayed
		r.Deadline = now.Add(delay)
	}
	if b.journal == nil {
		b.insert(r, now)
		b.mu.Unlock()
		return r.ID, false, nil
	}
	cs := s.commits[:0]
	if err := b.record(&cs, opPut, r); err != nil {
		b.mu.Unlock()
		return 0, false, ErrOutOfMemory
	}
	// A put of the same key while this one is being logged is answered
	// with this id (it is indexed now; see unique.go).
	b.index(r)
	t.pending++ // keeps the tube alive until the job is in it
	b.mu.Unlock()
	s.commits = cs
	s.putting = r
	return 0, true, nil
}

// FinishPut waits until the job of the put StartPut began is durable and
// returns Put's answer: its id, or ErrOutOfMemory if the log refused it
// (nothing is kept then). For a put of a unique key whose first job was
// still being logged it waits for that job: its id, or, if the log
// refused it, this put's own answer (ErrOutOfMemory if yet another put
// of the key is being logged then). It returns ErrClosed if no put is
// waiting.
func (s *Session) FinishPut() (job.ID, error) {
	b, r := s.b, s.putting
	if d := s.dup; d != nil {
		s.dup = nil
		<-d.w.done
		if d.w.ok {
			return d.id, nil
		}
		// The log refused the job this put duplicates: this put is a
		// put like any other.
		b.mu.Lock()
		d.t.limits.duplicates--
		b.mu.Unlock()
		id, wait, err := s.StartPut(d.pri, d.delay, d.ttr, d.body)
		if !wait {
			return id, err
		}
		if again := s.dup; again != nil {
			// Yet another put of the key is being logged, perhaps
			// one whose FinishPut this caller runs after this one:
			// waiting here could wait for ever. Refused, as the log
			// refused the first.
			s.dup = nil
			b.mu.Lock()
			again.t.limits.duplicates--
			b.mu.Unlock()
			return 0, ErrOutOfMemory
		}
		return s.FinishPut()
	}
	if r == nil {
		return 0, ErrClosed
	}
	s.putting = nil
	t := r.tube
	cs := s.commits
	err := waitCommits(cs)
	s.commits = cs[:0]

	b.mu.Lock()
	t.pending--
	if err != nil {
		// The record may be partly on disk: tell the log it is void.
		var dc []journal.Commit
		_ = b.record(&dc, opDelete, r)
		b.unindex(t, r)
		b.settled(t, r, false)
		b.maybeDrop(t)
		b.mu.Unlock()
		_ = waitCommits(dc)
		return 0, ErrOutOfMemory
	}
	b.insert(r, b.now())
	b.settled(t, r, true)
	b.mu.Unlock()
	return r.ID, nil
}

// insert adds a new job to the table and its tube.
func (b *Broker) insert(r *rec, now time.Time) {
	b.jobs.set(r)
	b.index(r)
	r.tube.totalJobs++
	b.totalJobs++
	b.place(r, now)
}

// wait waits for the journal writes of the call that just released mu.
func (s *Session) wait(cs []journal.Commit) error {
	if len(cs) == 0 {
		s.commits = cs
		return nil
	}
	err := waitCommits(cs)
	s.commits = cs[:0]
	return err
}

// owned returns job id if s has it reserved, else nil.
func (s *Session) owned(id job.ID) *rec {
	r := s.b.jobs.get(id)
	if r == nil || r.State != job.Reserved || r.owner != s {
		return nil
	}
	return r
}

// Delete removes a job reserved by this session, or a ready, delayed or
// buried job of any tube; ErrNotFound otherwise (a job reserved by another
// session included).
func (s *Session) Delete(id job.ID) error {
	b := s.b
	// The end of the job's run, for the observer: read before the lock,
	// as a clock read is most of what observing costs (docs/performance.md).
	var end time.Time
	if b.observer != nil {
		end = b.now()
	}
	b.mu.Lock()
	r := b.jobs.get(id)
	if r == nil || (r.State == job.Reserved && r.owner != s) {
		b.mu.Unlock()
		return ErrNotFound
	}
	cs := s.commits[:0]
	if err := b.record(&cs, opDelete, r); err != nil {
		b.mu.Unlock()
		return ErrOutOfMemory
	}
	if r.State == job.Reserved && r.tube.obs != nil {
		r.tube.obs.Finished("deleted", b.ranFor(r, end))
	}
	b.unplace(r)
	r.tube.cmdDelete++
	b.drop(r)
	b.serveFreedNow()
	b.mu.Unlock()
	return s.wait(cs)
}

// Release puts a job reserved by this session back: ready, or delayed by
// delay, with priority pri. ErrNotFound if this session has not reserved
// it. A release with a delay returns once the journal made it durable; one
// without delay returns as soon as it is journaled, without waiting.
func (s *Session) Release(id job.ID, pri uint32, delay time.Duration) error {
	b := s.b
	b.mu.Lock()
	r := s.owned(id)
	if r == nil {
		b.mu.Unlock()
		return ErrNotFound
	}
	now := b.now()
	old := r.Job
	b.unplace(r)
	r.Priority = pri
	r.Delay = delay
	r.Releases++
	if delay > 0 {
		r.State = job.Delayed
		r.Deadline = now.Add(delay)
	} else {
		r.State = job.Ready
		r.Deadline = time.Time{}
	}
	s.commits = s.commits[:0]
	err := b.commitMove(&s.commits, r, old, r.tube, s, now)
	b.serveFreed(now)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	if delay == 0 {
		// A release without delay is written (so the new priority and
		// counters reach the disk with the next write) but not waited
		// for: if it is lost in a crash the log still holds the job as
		// reserved, ready or delayed until a past deadline, and replay
		// makes all of those ready, which is what the release promised.
		// Only the priority and the releases counter can fall back to
		// their previous values. beanstalkd does the same (it does not
		// log a release with delay 0 at all), and waiting cost release
		// churn one fsync per command under --fsync always. A release
		// with a delay is a promise about the future (not before the
		// deadline) that replay cannot rebuild, so it is waited for.
		s.commits = s.commits[:0]
		return nil
	}
	return s.wait(s.commits)
}

// commitMove journals r's new state and places it there, or, if the
// journal refuses, puts r back as old in tube from (see undo) and returns
// ErrOutOfMemory. r must be unplaced.
func (b *Broker) commitMove(cs *[]journal.Commit, r *rec, old job.Job, from *tube, owner *Session, now time.Time) error {
	n := len(*cs)
	if err := b.record(cs, opUpdate, r); err != nil {
		*cs = (*cs)[:n]
		b.undo(r, old, from, owner, now)
		return ErrOutOfMemory
	}
	b.place(r, now)
	return nil
}

// Bury buries a job reserved by this session with priority pri.
// ErrNotFound if this session has not reserved it.
func (s *Session) Bury(id job.ID, pri uint32) error {
	b := s.b
	b.mu.Lock()
	r := s.owned(id)
	if r == nil {
		b.mu.Unlock()
		return ErrNotFound
	}
	now := b.now()
	old := r.Job
	b.unplace(r)
	r.Priority = pri
	r.Buries++
	r.State = job.Buried
	r.Deadline = now
	s.commits = s.commits[:0]
	err := b.commitMove(&s.commits, r, old, r.tube, s, now)
	b.serveFreed(now)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return s.wait(s.commits)
}

// Touch gives a job reserved by this session a full TTR again.
// ErrNotFound if this session has not reserved it.
func (s *Session) Touch(id job.ID) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	r := s.owned(id)
	if r == nil {
		return ErrNotFound
	}
	r.Deadline = b.now().Add(r.TTR)
	s.reserved.fix(r)
	b.retickSession(s)
	return nil
}

// Kick moves up to bound jobs of the used tube to ready: its buried jobs,
// oldest burial first, if it has any, else its delayed jobs, soonest
// first. It returns how many it moved.
func (s *Session) Kick(bound int) int {
	b := s.b
	b.mu.Lock()
	t := s.use
	now := b.now()
	cs := s.commits[:0]
	n := 0
	h := &t.buried
	if h.len() == 0 {
		h = &t.delay
	}
	for n < bound && h.len() > 0 {
		if b.kick(&cs, h.top(), now) != nil {
			break
		}
		n++
	}
	b.mu.Unlock()
	_ = s.wait(cs)
	return n
}

// kick moves a buried or delayed job to ready, journaled. A dead letter
// (a job its policy moved to a dead-letter tube) goes back, ready, to the
// tube it came from.
func (b *Broker) kick(cs *[]journal.Commit, r *rec, now time.Time) error {
	old := r.Job
	from := r.tube
	wasBuried := r.State == job.Buried
	b.unplace(r)
	r.Kicks++
	r.State = job.Ready
	r.Deadline = time.Time{}
	if wasBuried && r.Failure != nil && r.Failure.Origin != "" && r.Failure.Origin != r.Tube &&
		strings.HasPrefix(r.Failure.GaveUp, "dead-letter ") {
		r.tube = b.tube(r.Failure.Origin, true)
		r.Tube = r.tube.name
	}
	b.noteKick(r, wasBuried, now)
	if err := b.commitMove(cs, r, old, from, nil, now); err != nil {
		return err
	}
	if r.tube != from {
		b.moved(r, from)
		b.maybeDrop(from)
	}
	return nil
}

// ReserveJob reserves job id, which must be ready, delayed or buried, for
// this session, whatever tube it is in, whether or not that tube is
// paused or past its rate limit (the reservation takes a token all the
// same). ErrNotFound otherwise, and while the job's tube has as many jobs
// reserved as its concurrency limit allows.
func (s *Session) ReserveJob(id job.ID) (Reserved, error) {
	b := s.b
	b.mu.Lock()
	if b.closed || s.closed {
		b.mu.Unlock()
		return Reserved{}, ErrClosed
	}
	r := b.jobs.get(id)
	if r == nil || r.State == job.Reserved {
		b.mu.Unlock()
		return Reserved{}, ErrNotFound
	}
	if p := r.tube.pol; p != nil && p.Concurrency > 0 && r.tube.nReserv >= p.Concurrency {
		// A concurrency limit holds even for reserve-job (a pause and a
		// rate limit do not).
		noteHeld(r.tube, "concurrency")
		b.mu.Unlock()
		return Reserved{}, ErrNotFound
	}
	now := b.now()
	if p := r.tube.pol; p != nil && p.Rate != nil {
		b.refill(r.tube, now) // reserve-job is not held back, but takes a token
	}
	logged := r.State != job.Ready
	old := r.Job
	b.reserve(s, r, now)
	cs := s.commits[:0]
	if logged {
		// The log must not keep it buried or delayed: once this
		// reservation ends it is ready.
		if err := b.record(&cs, opUpdate, r); err != nil {
			b.unplace(r)
			r.Job = old
			b.place(r, now)
			b.mu.Unlock()
			return Reserved{}, ErrOutOfMemory
		}
	}
	res := reserved(r)
	b.mu.Unlock()
	if err := s.wait(cs); err != nil {
		return Reserved{}, err
	}
	return res, nil
}
