package cluster

import (
	"context"
	"reflect"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/poll"
)

// TestCatchUpReadsWhatTheReaderMissed: a follower whose reader stopped
// after the first term (as an ordered consumer stalls after a stream
// leader change) reads the puts, updates and deletes it missed directly
// by sequence, up to the stream's last message, and hands over exactly
// the live jobs and the next id.
func TestCatchUpReadsWhatTheReaderMissed(t *testing.T) {
	nodes := openAll(t, withLease(externalConfigs(t, 2), loadedLease))
	ctx := context.Background()
	if _, err := nodes[0].Lead(ctx); err != nil {
		t.Fatal(err)
	}
	r := nodes[1].replica
	poll.Until(t, "the follower reads the first term", func() bool { tm, _ := r.leader(); return tm.Term == 1 })
	r.stop()
	<-r.stopped

	want := map[job.ID]*job.Job{}
	write(t, nodes[0].Journal(), func(put func(*job.Job), upd func(*job.Job), del func(job.ID)) {
		for id := job.ID(1); id <= 30; id++ {
			want[id] = testJob(id, job.Ready)
			put(want[id])
		}
		for id := job.ID(1); id <= 30; id += 3 {
			want[id] = testJob(id, job.Buried)
			upd(want[id])
		}
		for _, id := range []job.ID{2, 5, 30} {
			del(id)
			delete(want, id)
		}
	})
	st, err := nodes[0].js.Stream(ctx, nodes[0].names.stream)
	if err != nil {
		t.Fatal(err)
	}
	last := st.CachedInfo().State.LastSeq
	if got := r.applied; got >= last {
		t.Fatalf("the stopped reader applied sequence %d of %d", got, last)
	}
	if err := r.catchUp(ctx, last); err != nil {
		t.Fatalf("catch up to %d: %v", last, err)
	}
	if r.applied != last {
		t.Fatalf("applied %d after catching up to %d", r.applied, last)
	}
	jobs, next := r.takeOver()
	if next != 31 {
		t.Errorf("next id %d, want 31", next)
	}
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs, want %d", len(jobs), len(want))
	}
	for _, j := range jobs {
		if w := want[j.ID]; !reflect.DeepEqual(j, w) {
			t.Fatalf("job %d read as\n%+v\nwant\n%+v", j.ID, j, w)
		}
	}
}
