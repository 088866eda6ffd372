package wal

import (
	"iter"

	"github.com/reprieve/reprieve/internal/job"
)

// jobIndex locates the records of every live job (entry by id). Ids are
// handed out in sequence, so it is a sparse array of pages keyed by
// id/indexPageLen rather than a hash map of every id: a million live jobs
// take about 42 MB (an entry and a share of its page) instead of the
// 100 MB and more of a map that doubles as it grows (with the old table
// left as garbage at every doubling). A page is freed when its last job
// goes. It is guarded by Log.mu.
type jobIndex struct {
	pages map[job.ID]*indexPage // by id / indexPageLen
	n     int                   // entries held

	tailKey job.ID
	tail    *indexPage // the newest page (puts); nil: none
}

// indexPageLen is the number of ids a page covers: 64 entries of 40 bytes
// fill a 2,688-byte size class within 5 %.
const indexPageLen = 64

type indexPage struct {
	e [indexPageLen]entry // e[i].held tells whether the id is live
	n int                 // held entries
}

// newJobIndex returns an empty index with room for about n jobs.
func newJobIndex(n int) jobIndex {
	return jobIndex{pages: make(map[job.ID]*indexPage, n/indexPageLen+1)}
}

func (x *jobIndex) page(key job.ID) *indexPage {
	if x.tail != nil && x.tailKey == key {
		return x.tail
	}
	return x.pages[key]
}

// get returns the entry of id and whether the index holds it.
func (x *jobIndex) get(id job.ID) (entry, bool) {
	if p := x.page(id / indexPageLen); p != nil && p.e[id%indexPageLen].held {
		return p.e[id%indexPageLen], true
	}
	return entry{}, false
}

// set makes e the entry of id.
func (x *jobIndex) set(id job.ID, e entry) {
	key := id / indexPageLen
	p := x.page(key)
	if p == nil {
		p = new(indexPage)
		x.pages[key] = p
	}
	if x.tail == nil || key >= x.tailKey {
		x.tail, x.tailKey = p, key
	}
	if !p.e[id%indexPageLen].held {
		p.n++
		x.n++
	}
	e.held = true
	p.e[id%indexPageLen] = e
}

// remove forgets id, if the index holds it.
func (x *jobIndex) remove(id job.ID) {
	key := id / indexPageLen
	p := x.page(key)
	if p == nil || !p.e[id%indexPageLen].held {
		return
	}
	p.e[id%indexPageLen] = entry{}
	p.n--
	x.n--
	if p.n > 0 {
		return
	}
	delete(x.pages, key)
	if x.tail == p {
		x.tail = nil
	}
}

// all yields every entry with its id, in no particular order.
func (x *jobIndex) all() iter.Seq2[job.ID, entry] {
	return func(yield func(job.ID, entry) bool) {
		for key, p := range x.pages {
			for i, e := range p.e {
				if e.held && !yield(key*indexPageLen+job.ID(i), e) {
					return
				}
			}
		}
	}
}
