package broker

import (
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
)

// policyLookup returns the failure policy of the tube called name, nil
// for a tube that behaves exactly like beanstalkd. It is called with the
// engine's lock held, once when a tube is created and for every tube when
// the policies change.
type policyLookup func(tube string) *policy.Policy

// policySet resolves tube names to policies.
type policySet struct {
	lookup policyLookup
}

func (ps *policySet) forTube(name string) *policy.Policy {
	if ps == nil || ps.lookup == nil {
		return nil
	}
	return ps.lookup(name)
}

// initPolicies installs cfg.Policies at start.
func (b *Broker) initPolicies(cfg Config) {
	if cfg.Policies != nil {
		b.setPolicySet(&policySet{lookup: cfg.Policies.Lookup}, nil)
		b.setSchedules(cfg.Policies.Schedules(), b.now())
	}
}

// SetPolicies replaces the failure policies at run time (a SIGHUP reload):
// every tube gets its new policy at once. No job is moved, copied or lost;
// new retention bounds apply at once (and may expire buried jobs), a new
// ready-expiry window counts from now for jobs already ready, delayed
// retries keep their times, and reserved jobs fail by the new policy. nil
// removes all policies: every tube behaves like beanstalkd.
func (b *Broker) SetPolicies(set *policy.Set) {
	var lookup policyLookup
	if set != nil {
		lookup = set.Lookup
	}
	b.setLookup(lookup)
	b.mu.Lock()
	b.setSchedules(set.Schedules(), b.now())
	b.mu.Unlock()
}

// setLookup installs a lookup (nil: none).
func (b *Broker) setLookup(lookup policyLookup) {
	b.mu.Lock()
	var cs []journal.Commit
	var ps *policySet
	if lookup != nil {
		ps = &policySet{lookup: lookup}
	}
	b.setPolicySet(ps, &cs)
	b.mu.Unlock()
	_ = waitCommits(cs)
}

// setPolicySet installs ps and applies it to every tube: new retention
// bounds take effect at once, ready-expiry starts counting now for the jobs
// already ready. Jobs are never moved or copied by a change of policy.
func (b *Broker) setPolicySet(ps *policySet, cs *[]journal.Commit) {
	b.policies = ps
	now := b.now()
	for t := b.firstTube; t != nil; {
		next := t.next // t may go if retention empties it
		b.applyPolicy(t, ps.forTube(t.name), now, cs)
		t = next
	}
	b.rebuildUnique()
}

// applyPolicy gives t the policy p.
func (b *Broker) applyPolicy(t *tube, p *policy.Policy, now time.Time, cs *[]journal.Commit) {
	hadExpiry := t.pol != nil && t.pol.ReadyExpiry > 0
	t.pol = p
	switch {
	case p == nil || p.ReadyExpiry == 0:
		t.expq, t.expHead = nil, 0
	case !hadExpiry:
		t.expq, t.expHead = t.expq[:0], 0
		for _, r := range t.ready.a {
			t.expq = append(t.expq, expEntry{r: r, at: now, reserves: r.Reserves})
		}
	}
	if p != nil {
		b.enforceRetention(t, now, cs)
	}
	if t.waitHead != nil {
		b.dispatch(t, now) // a limit may have risen or gone
	}
	b.retickTube(t)
	b.maybeDrop(t)
}

// policyTick returns the earliest retention or ready-expiry deadline of t.
func (b *Broker) policyTick(t *tube) (time.Time, bool) {
	p := t.pol
	if p == nil {
		return time.Time{}, false
	}
	var at time.Time
	ok := false
	if p.Retention.MaxAge > 0 {
		if r := t.buried.top(); r != nil {
			at, ok = r.Deadline.Add(p.Retention.MaxAge), true
		}
	}
	if x, has := b.limitTick(t); has && (!ok || x.Before(at)) {
		at, ok = x, true
	}
	if p.ReadyExpiry > 0 {
		t.skipStaleExpiries()
		if t.expHead < len(t.expq) {
			x := t.expq[t.expHead].at.Add(p.ReadyExpiry)
			if !ok || x.Before(at) {
				at, ok = x, true
			}
		}
	}
	return at, ok
}

// policyDue applies t's retention age and ready-expiry at now.
func (b *Broker) policyDue(t *tube, now time.Time, cs *[]journal.Commit) {
	p := t.pol
	if p == nil {
		return
	}
	if p.ReadyExpiry > 0 {
		batch := expiryBatch{tube: t.name, what: "ready job expired (not reserved within " + p.ReadyExpiry.String() + ")"}
		defer b.logExpiries(&batch)
		for {
			t.skipStaleExpiries()
			if t.expHead >= len(t.expq) {
				break
			}
			e := t.expq[t.expHead]
			if e.at.Add(p.ReadyExpiry).After(now) {
				break
			}
			t.expHead++
			b.expireReady(cs, e.r, p, now, &batch)
			if t.pol != p { // the job moved and the tube went away
				return
			}
		}
	}
	b.enforceRetention(t, now, cs)
	if t.waitHead != nil && t.pol == p {
		b.dispatch(t, now) // a token may be due
	}
}

// skipStaleExpiries drops, from the front of the ready-expiry queue, the
// entries of jobs that are no longer in the ready period they were queued
// for, and compacts the queue now and then.
func (t *tube) skipStaleExpiries() {
	for t.expHead < len(t.expq) {
		e := t.expq[t.expHead]
		if e.r.State == job.Ready && e.r.Reserves == e.reserves && e.r.tube == t {
			break
		}
		t.expq[t.expHead] = expEntry{}
		t.expHead++
	}
	if t.expHead == len(t.expq) {
		t.expq, t.expHead = t.expq[:0], 0
	} else if t.expHead > 64 && t.expHead > len(t.expq)/2 {
		n := copy(t.expq, t.expq[t.expHead:])
		clear(t.expq[n:])
		t.expq, t.expHead = t.expq[:n], 0
	}
}

// noteReady queues a job that just became ready for ready-expiry.
func (b *Broker) noteReady(t *tube, r *rec, now time.Time) {
	if t.pol == nil || t.pol.ReadyExpiry == 0 {
		return
	}
	t.expq = append(t.expq, expEntry{r: r, at: now, reserves: r.Reserves})
	if len(t.expq)-t.expHead == 1 {
		b.retickTube(t)
	}
}

// noteBuried applies count and byte retention after a job was buried.
func (b *Broker) noteBuried(t *tube, r *rec, now time.Time) {
	if t.pol == nil {
		return
	}
	if r.idx == 0 && t.pol.Retention.MaxAge > 0 {
		b.retickTube(t)
	}
	if !b.restoring {
		// Nobody is answered for these deletions: their commits are not
		// waited on.
		b.enforceRetention(t, now, nil)
	}
}
