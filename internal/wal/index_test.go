package wal

import (
	"maps"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

func TestJobIndexFollowsTheLiveJobs(t *testing.T) {
	x := newJobIndex(0)
	want := map[job.ID]entry{}
	at := func(id job.ID) entry {
		return entry{st: storeKind(id % 2), put: loc{seg: uint64(id), off: 1, n: 2}, last: loc{seg: uint64(id), off: 3, n: 4}}
	}
	for id := job.ID(1); id <= 1000; id++ {
		x.set(id, at(id))
		want[id] = at(id)
	}
	x.set(5000, at(5000)) // a page of its own
	want[5000] = at(5000)
	for id := job.ID(1); id <= 1000; id += 3 {
		x.remove(id)
		delete(want, id)
	}
	x.remove(1) // gone already
	x.remove(7777)
	e := at(2)
	e.last.off = 99
	x.set(2, e) // replaces
	want[2] = e

	got := map[job.ID]entry{}
	for id, e := range x.all() {
		e.held = false
		got[id] = e
	}
	if !maps.Equal(got, want) || x.n != len(want) {
		t.Fatalf("index holds %d entries (n %d), want %d; equal %v", len(got), x.n, len(want), maps.Equal(got, want))
	}
	for _, id := range []job.ID{1, 4, 7777, 0} {
		if _, ok := x.get(id); ok {
			t.Fatalf("get(%d) found a removed or never set id", id)
		}
	}
	if e, ok := x.get(2); !ok || e.last.off != 99 {
		t.Fatalf("get(2) = %+v, %v", e, ok)
	}
	// Removing every id of a page frees it.
	pages := len(x.pages)
	x.remove(5000)
	if len(x.pages) != pages-1 {
		t.Fatalf("pages %d after emptying one, want %d", len(x.pages), pages-1)
	}
	for id := range x.all() {
		x.remove(id)
	}
	if len(x.pages) != 0 || x.n != 0 {
		t.Fatalf("%d pages, %d entries left after removing all", len(x.pages), x.n)
	}
}
