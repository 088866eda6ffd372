package broker

import (
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
)

// MaxErrorLen is the longest error text kept in a job's failure history;
// longer texts are cut at this many bytes.
const MaxErrorLen = 4096

// TimeoutError is the error text recorded when a job's TTR expires on a
// tube with a retry policy.
const TimeoutError = "ttr expired"

// FailAction is what a failure led to.
type FailAction uint8

// The outcomes of Session.Fail.
const (
	// FailRetry: the job is delayed until FailResult.At, then ready again.
	FailRetry FailAction = iota + 1
	// FailBuried: the policy gave up and buried the job in its tube.
	FailBuried
	// FailDeadLettered: the policy gave up and moved the job, buried, to
	// the dead-letter tube FailResult.Tube.
	FailDeadLettered
	// FailDeleted: the policy gave up and deleted the job.
	FailDeleted
)

// String names the action as the wire and the logs do.
func (a FailAction) String() string {
	switch a {
	case FailRetry:
		return "retry"
	case FailBuried:
		return "buried"
	case FailDeadLettered:
		return "dead-letter"
	case FailDeleted:
		return "deleted"
	}
	return "invalid"
}

// FailResult says what Session.Fail did with the job.
type FailResult struct {
	Action FailAction
	// At is when a retried job becomes ready again (FailRetry only).
	At time.Time
	// Tube is the dead-letter tube the job went to (FailDeadLettered only).
	Tube string
	// Attempts is the job's failure count after this failure.
	Attempts uint32
}

// Fail records that a job reserved by this session failed with errText
// (cut to MaxErrorLen bytes) and applies its tube's policy: with a retry
// schedule that has not given up, the job is delayed until its next
// attempt; otherwise the policy gives up (bury by default, dead-letter tube
// or delete). On a tube with no policy the job is buried with its error.
// The failure history travels with the job and is journaled.
// A job that no session holds (ready, delayed or buried) may be failed by
// any session, as it may be deleted: an operator's way to send it down its
// failure path. ErrNotFound if there is no such job or another session
// has it reserved; ErrOutOfMemory if the change cannot be logged (the job
// then stays as it was).
func (s *Session) Fail(id job.ID, errText string) (FailResult, error) {
	return s.failJob(id, errText, false)
}

// GiveUp is Fail without a retry: the failure is recorded and the tube's
// give-up action applied at once (bury without a policy), whatever the
// schedule says. For failures that no retry can mend.
func (s *Session) GiveUp(id job.ID, errText string) (FailResult, error) {
	return s.failJob(id, errText, true)
}

// failJob is Fail, or GiveUp if final.
func (s *Session) failJob(id job.ID, errText string, final bool) (FailResult, error) {
	b := s.b
	b.mu.Lock()
	r := b.jobs.get(id)
	if r == nil || (r.State == job.Reserved && r.owner != s) {
		b.mu.Unlock()
		return FailResult{}, ErrNotFound
	}
	now := b.now()
	old, from := r.Job, r.tube
	held := r.State == job.Reserved
	var owner *Session
	if held {
		owner = s
	}
	ran := b.ranFor(r, now)
	b.unplace(r)
	s.commits = s.commits[:0]
	res, err := b.fail(&s.commits, r, old, owner, errText, now, final)
	if err == nil && held && from.obs != nil {
		from.obs.Finished("failed", ran)
	}
	b.serveFreed(now)
	b.mu.Unlock()
	if err != nil {
		return FailResult{}, err
	}
	if err := s.wait(s.commits); err != nil {
		return res, err
	}
	return res, nil
}

// fail records a failure of r (unplaced; old is its job before) and
// retries or (at once if final) gives up. owner is the session that had it
// reserved, nil for a TTR expiry.
func (b *Broker) fail(cs *[]journal.Commit, r *rec, old job.Job, owner *Session, errText string, now time.Time, final bool) (FailResult, error) {
	r.Failure = withFailure(r.Failure, r.Tube, errText, now)
	p := r.tube.pol
	var d policy.Decision
	if final {
		d.Action, d.Tube = p.GiveUpPath(r.Tube)
	} else {
		d = p.Decide(r.Tube, r.Failure.Attempts, r.Failure.RetryFrom, now, b.rand)
	}
	if d.Retry {
		r.Delay = d.Delay
		r.Deadline = now.Add(d.Delay)
		r.State = job.Delayed
		if d.Delay <= 0 {
			r.State = job.Ready
			r.Deadline = time.Time{}
		}
		if err := b.commitMove(cs, r, old, r.tube, owner, now); err != nil {
			return FailResult{}, err
		}
		b.countFailure(r.tube, false)
		b.observeFailure(r.tube, FailRetry, "", false, r.Failure.LastError, now)
		return FailResult{Action: FailRetry, At: now.Add(d.Delay), Attempts: r.Failure.Attempts}, nil
	}
	from := r.tube
	res, err := b.giveUp(cs, r, old, owner, d.Action, d.Tube, now)
	if err == nil {
		b.countFailure(from, true)
		b.observeFailure(from, res.Action, res.Tube, false, r.Failure.LastError, now)
		res.Attempts = r.Failure.Attempts
	}
	return res, err
}

// observeFailure tells t's observer, if any, of a failure in t.
func (b *Broker) observeFailure(t *tube, a FailAction, deadLetter string, expired bool, errText string, now time.Time) {
	if t.obs != nil {
		t.obs.Failed(FailEvent{Action: a, DeadLetter: deadLetter, Expired: expired, Error: errText, At: now})
	}
}

// countFailure counts a failure (and a give-up) in the tube and server
// counters.
func (b *Broker) countFailure(t *tube, gaveUp bool) {
	b.failures++
	t.failures++
	if gaveUp {
		b.gaveUp++
		t.gaveUp++
	}
}

// withFailure returns a copy of f (which is shared with journaled copies
// and must not change) with one more failure.
func withFailure(f *job.Failure, tube, errText string, now time.Time) *job.Failure {
	if len(errText) > MaxErrorLen {
		errText = errText[:MaxErrorLen]
	}
	var n job.Failure
	if f != nil {
		n = *f
	}
	n.Attempts++
	if n.FirstAt.IsZero() {
		n.FirstError = errText
		n.FirstAt = now
	}
	if n.RetryFrom.IsZero() {
		n.RetryFrom = now
	}
	if n.Origin == "" {
		n.Origin = tube
	}
	n.LastError = errText
	n.LastAt = now
	return &n
}

// giveUp gives r (unplaced) up by action, into the dead-letter tube
// dlTube for policy.DeadLetter (see policy.Policy.GiveUpPath).
func (b *Broker) giveUp(cs *[]journal.Commit, r *rec, old job.Job, owner *Session, action policy.Action, dlTube string, now time.Time) (FailResult, error) {
	f := *r.Failure
	r.Failure = &f
	from := r.tube
	switch action {
	case policy.Delete:
		f.GaveUp = "deleted"
		n := len(*cs)
		if err := b.record(cs, opDelete, r); err != nil {
			*cs = (*cs)[:n]
			b.undo(r, old, from, owner, now)
			return FailResult{}, ErrOutOfMemory
		}
		b.log.Info("job deleted by its failure policy", "tube", r.Tube, "id", uint64(r.ID),
			"attempts", f.Attempts, "last_error", f.LastError)
		b.drop(r)
		return FailResult{Action: FailDeleted}, nil
	case policy.DeadLetter:
		dt := b.tube(dlTube, true)
		f.GaveUp = "dead-letter " + dt.name
		r.tube, r.Tube = dt, dt.name
		r.Buries++
		r.State = job.Buried
		r.Deadline = now
		if err := b.commitMove(cs, r, old, from, owner, now); err != nil {
			b.maybeDrop(dt)
			return FailResult{}, err
		}
		b.moved(r, from)
		b.maybeDrop(from)
		return FailResult{Action: FailDeadLettered, Tube: dt.name}, nil
	default:
		f.GaveUp = "buried"
		r.Buries++
		r.State = job.Buried
		r.Deadline = now
		if err := b.commitMove(cs, r, old, from, owner, now); err != nil {
			return FailResult{}, err
		}
		return FailResult{Action: FailBuried}, nil
	}
}

// failOnTimeout handles a TTR expiry of r (unplaced, its timeout counted)
// on a tube with a retry policy as a failure and reports true; on other
// tubes it does nothing and reports false (the job goes back to ready).
func (b *Broker) failOnTimeout(cs *[]journal.Commit, r *rec, now time.Time) bool {
	p := r.tube.pol
	if p == nil || p.Retry == nil {
		return false
	}
	old := r.Job
	old.State = job.Ready // if the log refuses, the job is ready as in beanstalkd
	old.Deadline = time.Time{}
	_, _ = b.fail(cs, r, old, nil, TimeoutError, now, false)
	return true
}

// expireReady sends r, ready for longer than its tube's window, to the
// give-up path.
func (b *Broker) expireReady(cs *[]journal.Commit, r *rec, p *policy.Policy, now time.Time, batch *expiryBatch) {
	t := r.tube
	b.unplace(r)
	old := r.Job
	r.Failure = withExpiry(r.Failure, r.Tube, p.ReadyExpiry, now)
	action, dlTube := p.GiveUpPath(r.Tube)
	res, err := b.giveUp(cs, r, old, nil, action, dlTube, now)
	if err != nil {
		return
	}
	b.observeFailure(t, res.Action, res.Tube, true, r.Failure.LastError, now)
	t.expired++
	b.expired++
	b.gaveUp++
	t.gaveUp++
	batch.add(r.ID, r.Failure.GaveUp)
}

// withExpiry returns a copy of f noting a ready-expiry (not an attempt).
func withExpiry(f *job.Failure, tube string, window time.Duration, now time.Time) *job.Failure {
	var n job.Failure
	if f != nil {
		n = *f
	}
	if n.Origin == "" {
		n.Origin = tube
	}
	n.LastError = fmt.Sprintf("ready-expiry: not reserved within %s", window)
	n.LastAt = now
	return &n
}

// noteKick records a kick in the failure history of a job that has one;
// reviving a buried job starts a new series of attempts if its tube's
// policy says so (the default without a policy).
func (b *Broker) noteKick(r *rec, wasBuried bool, now time.Time) {
	if r.Failure == nil {
		return
	}
	f := *r.Failure
	f.Kicks++
	f.KickedAt = now
	if wasBuried && (r.tube.pol == nil || r.tube.pol.KickResetsAttempts) {
		f.Attempts = 0
		f.RetryFrom = time.Time{}
	}
	r.Failure = &f
}

// undo puts r back as it was (old, in tube from) after the journal refused
// a change; a job that was reserved goes back to its owner, or to ready if
// it has none (a TTR expiry).
func (b *Broker) undo(r *rec, old job.Job, from *tube, owner *Session, now time.Time) {
	r.Job = old
	r.tube = from
	if r.State == job.Reserved {
		if owner != nil {
			r.owner = owner
		} else {
			r.State = job.Ready
			r.Deadline = time.Time{}
		}
	}
	b.place(r, now)
}
