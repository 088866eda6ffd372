package broker

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
)

// Unique jobs: a tube whose policy has Unique indexes its jobs by dedupe
// key, and a put whose key matches a live job of the tube is answered
// with that job's id and makes no job. The index is rebuilt from the jobs
// themselves (bodies and states), so it is exactly as durable as they
// are: after a restart (Restore) or a reload (SetPolicies) it is built
// again from what the log kept.

// uniqueKey is a job's dedupe key: the SHA-256 of the body or of the
// configured JSON field's value, cut to 128 bits.
type uniqueKey [16]byte

// keyOf returns the dedupe key of body under u, or false when the body
// has none (not a JSON object with the field).
func keyOf(u *policy.Unique, body []byte) (uniqueKey, bool) {
	var k uniqueKey
	if u.Key.Field == "" {
		sum := sha256.Sum256(body)
		copy(k[:], sum[:])
		return k, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return k, false
	}
	v, ok := obj[u.Key.Field]
	if !ok {
		return k, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		v = []byte(s) // a string counts by its text: "a" and "\u0061" match
	}
	sum := sha256.Sum256(v)
	copy(k[:], sum[:])
	return k, true
}

// live reports whether r, indexed in t, still makes a put to t with its
// key a duplicate at now.
func live(r *rec, t *tube, u *policy.Unique, now time.Time) bool {
	if r.tube != t {
		return false
	}
	switch r.State {
	case job.Ready, job.Delayed, job.Reserved:
	case job.Buried:
		if !u.Buried {
			return false
		}
	default:
		return false // dropped
	}
	return u.Window == 0 || now.Sub(r.Created) < u.Window
}

// duplicate returns the live job of t that a put of body duplicates, or
// nil; it counts the duplicate.
func (b *Broker) duplicate(t *tube, body []byte, now time.Time) *rec {
	u := t.pol.Unique
	l := t.limits
	if l == nil || l.uniq == nil {
		return nil
	}
	k, ok := keyOf(u, body)
	if !ok {
		return nil
	}
	r := l.uniq[k]
	if r == nil || !live(r, t, u, now) {
		return nil
	}
	l.duplicates++
	return r
}

// settling is the outcome of a put still being logged, awaited by the
// puts that duplicate it: done is closed once the log took the job (ok)
// or refused it.
type settling struct {
	done chan struct{}
	ok   bool
}

// awaitPut returns what a put that duplicates r must wait for when r's
// own put is still being logged (r is indexed but not yet in the job
// table), or nil when r is in the engine. A duplicate is answered with
// r's id only once r is durable: were it answered at once, a crash or a
// refusal by the log would leave its client holding the id of a job that
// never was.
func (b *Broker) awaitPut(t *tube, r *rec) *settling {
	if b.jobs.get(r.ID) == r {
		return nil
	}
	l := t.lim()
	if l.settling == nil {
		l.settling = map[*rec]*settling{}
	}
	w := l.settling[r]
	if w == nil {
		w = &settling{done: make(chan struct{})}
		l.settling[r] = w
	}
	return w
}

// settled tells the puts waiting on r's put (awaitPut) how it ended.
func (b *Broker) settled(t *tube, r *rec, ok bool) {
	l := t.limits
	if l == nil || l.settling == nil {
		return
	}
	if w := l.settling[r]; w != nil {
		w.ok = ok
		close(w.done)
		delete(l.settling, r)
	}
}

// index records r under its key in its tube's unique index, if the tube
// has one; a later job with the same key takes the entry over.
func (b *Broker) index(r *rec) {
	t := r.tube
	if t.pol == nil || t.pol.Unique == nil {
		return
	}
	k, ok := keyOf(t.pol.Unique, r.Body)
	if !ok {
		return
	}
	l := t.lim()
	if l.uniq == nil {
		l.uniq = map[uniqueKey]*rec{}
	}
	l.uniq[k] = r
}

// unindex removes r from the unique index of t, if r holds its entry.
func (b *Broker) unindex(t *tube, r *rec) {
	if t.limits == nil || t.limits.uniq == nil || t.pol == nil || t.pol.Unique == nil {
		return
	}
	if k, ok := keyOf(t.pol.Unique, r.Body); ok && t.limits.uniq[k] == r {
		delete(t.limits.uniq, k)
	}
}

// moved re-indexes r, which moved from tube from to r.tube (a dead letter
// or a kick back to its origin).
func (b *Broker) moved(r *rec, from *tube) {
	if from == r.tube {
		return
	}
	b.unindex(from, r)
	b.index(r)
}

// rebuildUnique builds every tube's unique index again from the jobs the
// engine holds (after a restore or a change of policies), in id order so
// that the newest job holds a shared key.
func (b *Broker) rebuildUnique() {
	any := false
	for t := b.firstTube; t != nil; t = t.next {
		if t.limits != nil {
			t.limits.uniq = nil
		}
		if t.pol != nil && t.pol.Unique != nil {
			any = true
		}
	}
	if !any {
		return
	}
	var recs []*rec
	b.jobs.each(func(r *rec) {
		if r.tube.pol != nil && r.tube.pol.Unique != nil {
			recs = append(recs, r)
		}
	})
	slices.SortFunc(recs, func(x, y *rec) int { return cmp.Compare(x.ID, y.ID) })
	for _, r := range recs {
		b.index(r)
	}
}
