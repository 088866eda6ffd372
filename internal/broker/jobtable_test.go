package broker

import (
	"math/rand/v2"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// TestJobTableMatchesMap runs random sets, removes and gets, mostly near
// the newest ids as a broker does, against a map, and checks that pages
// are freed when their last job goes.
func TestJobTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tb := newJobTable(0)
	want := map[job.ID]*rec{}
	var next job.ID
	pick := func() job.ID {
		if next == 0 || r.IntN(4) == 0 {
			return job.ID(r.Uint64N(uint64(next) + 10))
		}
		return next - job.ID(r.Uint64N(min(uint64(next), 40)))
	}
	for i := 0; i < 200000; i++ {
		switch op := r.IntN(10); {
		case op < 4:
			next++
			rc := &rec{Job: job.Job{ID: next}}
			tb.set(rc)
			want[next] = rc
		case op < 7:
			id := pick()
			tb.remove(id)
			delete(want, id)
		default:
			id := pick()
			if got := tb.get(id); got != want[id] {
				t.Fatalf("step %d: get(%d) = %p, want %p", i, id, got, want[id])
			}
		}
		if tb.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", i, tb.len(), len(want))
		}
	}
	seen := 0
	tb.each(func(rc *rec) {
		seen++
		if want[rc.ID] != rc {
			t.Errorf("each: job %d is not the one set", rc.ID)
		}
	})
	if seen != len(want) {
		t.Errorf("each saw %d jobs, want %d", seen, len(want))
	}
	pages := map[job.ID]bool{}
	for id := range want {
		pages[id/pageJobs] = true
	}
	if len(tb.pages) != len(pages) {
		t.Errorf("%d pages held for jobs on %d pages: empty pages are not freed", len(tb.pages), len(pages))
	}
	for id := range want {
		tb.remove(id)
	}
	if tb.len() != 0 || len(tb.pages) != 0 || tb.get(next) != nil {
		t.Errorf("after removing everything: len %d, %d pages, get(%d) = %v", tb.len(), len(tb.pages), next, tb.get(next))
	}
}

// TestJobTableCachedPageFreed checks that a freed page is not reached
// through the caches after it was dropped and its ids come back.
func TestJobTableCachedPageFreed(t *testing.T) {
	tb := newJobTable(0)
	a := &rec{Job: job.Job{ID: 5}}
	tb.set(a)
	if tb.get(5) != a {
		t.Fatal("get(5) after set")
	}
	tb.remove(5)
	if tb.get(5) != nil || len(tb.pages) != 0 {
		t.Fatalf("after remove: get(5) = %v, %d pages", tb.get(5), len(tb.pages))
	}
	b := &rec{Job: job.Job{ID: 6}}
	tb.set(b)
	if tb.get(6) != b || tb.get(5) != nil || len(tb.pages) != 1 || tb.len() != 1 {
		t.Fatalf("after set(6): get(6) = %v, get(5) = %v, %d pages, len %d", tb.get(6), tb.get(5), len(tb.pages), tb.len())
	}
}
