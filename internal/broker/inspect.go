package broker

import (
	"cmp"
	"slices"
	"strings"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// MaxListLimit caps the page size of ListJobs.
const MaxListLimit = 1000

// ListJobs returns, without reserving or changing them, the jobs of the
// tube called name in state st (0: every state), with ids above afterID,
// lowest id first, at most limit of them (limit <= 0 or above MaxListLimit
// means MaxListLimit). Page through with afterID = the last id returned; an
// empty page is the end. ErrNotFound if the tube does not exist.
func (b *Broker) ListJobs(name string, st job.State, afterID job.ID, limit int) ([]JobStats, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tubes[name]
	if t == nil {
		return nil, ErrNotFound
	}
	var picked []*rec
	take := func(rs []*rec) {
		for _, r := range rs {
			if r.ID > afterID {
				picked = append(picked, r)
			}
		}
	}
	if st == 0 || st == job.Ready {
		take(t.ready.a)
	}
	if st == 0 || st == job.Delayed {
		take(t.delay.a)
	}
	if st == 0 || st == job.Buried {
		take(t.buried.a)
	}
	if (st == 0 || st == job.Reserved) && t.nReserv > 0 {
		for s := b.firstSess; s != nil; s = s.next {
			for _, r := range s.reserved.a {
				if r.tube == t && r.ID > afterID {
					picked = append(picked, r)
				}
			}
		}
	}
	slices.SortFunc(picked, func(x, y *rec) int { return cmp.Compare(x.ID, y.ID) })
	if len(picked) > limit {
		picked = picked[:limit]
	}
	now := b.now()
	out := make([]JobStats, len(picked))
	for i, r := range picked {
		out[i] = b.jobStats(r, now)
	}
	return out, nil
}

// KickBuried moves to ready up to bound buried jobs of the tube called
// name whose last error contains text (every buried job if text is
// empty), longest buried first, and returns how many it moved. Each kick
// is recorded in the job's failure history and resets its attempts if the
// tube's policy says so. ErrNotFound if the tube does not exist.
func (b *Broker) KickBuried(name, text string, bound int) (int, error) {
	b.mu.Lock()
	t := b.tubes[name]
	if t == nil {
		b.mu.Unlock()
		return 0, ErrNotFound
	}
	var match []*rec
	for _, r := range t.buried.a {
		if text == "" || (r.Failure != nil && strings.Contains(r.Failure.LastError, text)) {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(x, y *rec) int { return cmp.Compare(x.seq, y.seq) })
	now := b.now()
	var cs []journal.Commit
	n := 0
	for _, r := range match {
		if n >= bound || b.kick(&cs, r, now) != nil {
			break
		}
		n++
	}
	b.mu.Unlock()
	_ = waitCommits(cs)
	return n, nil
}

// Flush deletes the jobs of the tube called name in state st (0: every
// state, reserved jobs included — their workers then get ErrNotFound) and
// returns how many it deleted. Each deletion is journaled; a job whose
// deletion cannot be logged is kept and the count stops there
// (ErrOutOfMemory). ErrNotFound if the tube does not exist.
func (b *Broker) Flush(name string, st job.State) (int, error) {
	b.mu.Lock()
	t := b.tubes[name]
	if t == nil {
		b.mu.Unlock()
		return 0, ErrNotFound
	}
	var victims []*rec
	if st == 0 || st == job.Ready {
		victims = append(victims, t.ready.a...)
	}
	if st == 0 || st == job.Delayed {
		victims = append(victims, t.delay.a...)
	}
	if st == 0 || st == job.Buried {
		victims = append(victims, t.buried.a...)
	}
	if (st == 0 || st == job.Reserved) && t.nReserv > 0 {
		for s := b.firstSess; s != nil; s = s.next {
			for _, r := range s.reserved.a {
				if r.tube == t {
					victims = append(victims, r)
				}
			}
		}
	}
	var cs []journal.Commit
	var err error
	n := 0
	for _, r := range victims {
		if b.record(&cs, opDelete, r) != nil {
			err = ErrOutOfMemory
			break
		}
		b.unplace(r)
		t.cmdDelete++
		b.drop(r)
		n++
	}
	b.serveFreedNow()
	b.mu.Unlock()
	if werr := waitCommits(cs); err == nil {
		err = werr
	}
	return n, err
}
