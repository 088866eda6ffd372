package wal

import (
	"slices"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// TestIDIndex: ids in one page, neighbouring pages and far apart map to
// what was set, and unknown ids to 0.
func TestIDIndex(t *testing.T) {
	var x idIndex
	ids := []job.ID{1, 63, 64, 65, 127, 1 << 40, 2, 1<<40 + 1, 1 << 62}
	for i, id := range ids {
		x.set(id, int32(i+1))
	}
	for i, id := range ids {
		if got := x.get(id); got != int32(i+1) {
			t.Errorf("get(%d) = %d, want %d", id, got, i+1)
		}
	}
	for _, id := range []job.ID{0, 3, 66, 1<<40 + 2, 1<<62 - 1} {
		if got := x.get(id); got != 0 {
			t.Errorf("get(%d) = %d for an id never set", id, got)
		}
	}
}

// TestReplaySparseIDs: jobs whose ids are far apart and out of order
// come back with their last state, deleted ones stay gone, and the index
// the writer uses holds exactly the live ones once a later call took the
// log's mutex.
func TestReplaySparseIDs(t *testing.T) {
	o := Options{Dir: t.TempDir(), Fsync: FsyncNever, Logger: quiet}
	l, _, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ids := []job.ID{1 << 33, 5, 64, 63, 1_000_000, 2}
	for _, id := range ids {
		if _, err := l.Put(&job.Job{ID: id, Tube: "default", Body: []byte("x"), State: job.Ready, Created: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Update(&job.Job{ID: 5, Tube: "default", Body: []byte("x"), State: job.Buried, Priority: 9, Created: t0, Deadline: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Delete(64); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []job.ID
	for _, j := range rec.Jobs {
		got = append(got, j.ID)
		if j.ID == 5 && (j.State != job.Buried || j.Priority != 9 || string(j.Body) != "x") {
			t.Errorf("job 5 replayed as %+v", j)
		}
	}
	slices.Sort(got)
	if want := []job.ID{2, 5, 63, 1_000_000, 1 << 33}; !slices.Equal(got, want) {
		t.Fatalf("replayed ids %v, want %v", got, want)
	}
	if rec.NextID != 1<<33+idStep {
		t.Fatalf("next id %d, want %d", rec.NextID, job.ID(1<<33+idStep))
	}
	l.mu.Lock()
	var indexed []job.ID
	for id := range l.index.all() {
		indexed = append(indexed, id)
	}
	l.mu.Unlock()
	slices.Sort(indexed)
	if !slices.Equal(indexed, got) {
		t.Fatalf("index holds %v, want %v", indexed, got)
	}
}
