package broker

import "github.com/reprieve/reprieve/internal/job"

// jobTable maps the id of every job the broker holds to its record. Ids
// are handed out in sequence, so it is a sparse array of small pages keyed
// by id/pageJobs rather than a hash map of every id: a put adds to the
// newest page without hashing or growing a table of millions of entries,
// and a lookup of an id near the last one looked up costs no hashing
// either (two cached pages: the newest, for puts, and the last looked up).
// A page is freed when its last job goes, so memory follows the live jobs:
// 8 bytes each when their ids are dense, at most a page (pageJobs*8 bytes)
// each when every job's neighbours are gone.
//
// It is protected by Broker.mu like the rest of the broker's state.
type jobTable struct {
	pages map[job.ID]*jobPage // by id / pageJobs
	n     int                 // jobs held

	tailKey, lastKey job.ID
	tail, last       *jobPage // cached pages; nil: none
}

// pageJobs is the number of ids a page covers.
const pageJobs = 32

type jobPage struct {
	recs [pageJobs]*rec
	n    int // non-nil entries of recs
}

// newJobTable returns an empty table with room for about n jobs.
func newJobTable(n int) jobTable {
	return jobTable{pages: make(map[job.ID]*jobPage, n/pageJobs+1)}
}

// len returns the number of jobs in the table.
func (t *jobTable) len() int { return t.n }

// page returns the page holding id's slot, or nil if there is none.
func (t *jobTable) page(key job.ID) *jobPage {
	switch {
	case t.last != nil && t.lastKey == key:
		return t.last
	case t.tail != nil && t.tailKey == key:
		return t.tail
	}
	p := t.pages[key]
	if p != nil {
		t.last, t.lastKey = p, key
	}
	return p
}

// get returns the job with id, or nil.
func (t *jobTable) get(id job.ID) *rec {
	if p := t.page(id / pageJobs); p != nil {
		return p.recs[id%pageJobs]
	}
	return nil
}

// set adds r, whose id the table does not hold.
func (t *jobTable) set(r *rec) {
	key := r.ID / pageJobs
	p := t.page(key)
	if p == nil {
		p = new(jobPage)
		t.pages[key] = p
	}
	if t.tail == nil || key >= t.tailKey {
		t.tail, t.tailKey = p, key
	}
	if p.recs[r.ID%pageJobs] == nil {
		p.n++
		t.n++
	}
	p.recs[r.ID%pageJobs] = r
}

// remove forgets the job with id, if the table holds it.
func (t *jobTable) remove(id job.ID) {
	key := id / pageJobs
	p := t.page(key)
	if p == nil || p.recs[id%pageJobs] == nil {
		return
	}
	p.recs[id%pageJobs] = nil
	p.n--
	t.n--
	if p.n > 0 {
		return
	}
	delete(t.pages, key)
	if t.last == p {
		t.last = nil
	}
	if t.tail == p {
		t.tail = nil
	}
}

// each calls f for every job, in no particular order.
func (t *jobTable) each(f func(r *rec)) {
	for _, p := range t.pages {
		for _, r := range p.recs {
			if r != nil {
				f(r)
			}
		}
	}
}
