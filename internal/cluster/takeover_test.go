package cluster

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// loadedLease is the lease of the tests that need a leader to keep its
// lease throughout: the default, which a leader under -race on a loaded
// 2-core machine renews in time (a 1 s lease is sometimes renewed too
// late there, and the test's leader steps down).
const loadedLease = 4 * time.Second

// withLease sets the lease of every configuration.
func withLease(cfgs []Config, d time.Duration) []Config {
	for i := range cfgs {
		cfgs[i].Lease = d
	}
	return cfgs
}

// testJob returns a job with every field set, distinct per id.
func testJob(id job.ID, st job.State) *job.Job {
	base := time.Unix(1_700_000_000, int64(id))
	j := &job.Job{
		ID: id, Tube: fmt.Sprintf("tube-%d", id%3), Body: []byte(fmt.Sprintf("body of %d", id)),
		Delay: time.Duration(id) * time.Second, TTR: 30 * time.Second, Created: base,
		Priority: uint32(id), Reserves: 1, Timeouts: 2, Releases: 3, Buries: 4, Kicks: 5, State: st,
	}
	if st == job.Delayed || st == job.Buried {
		j.Deadline = base.Add(time.Hour)
	}
	if id%2 == 0 {
		j.Failure = &job.Failure{Attempts: 2, FirstError: "first", LastError: "last", FirstAt: base, LastAt: base.Add(time.Minute),
			RetryFrom: base, Origin: "origin", GaveUp: "buried", Kicks: 1, KickedAt: base.Add(2 * time.Minute)}
	}
	return j
}

// write runs changes through j and waits for all of them.
func write(t *testing.T, j *Journal, changes func(put func(*job.Job), upd func(*job.Job), del func(job.ID))) {
	t.Helper()
	var cs []journal.Commit
	add := func(c journal.Commit, err error) {
		if err != nil {
			t.Fatalf("journal: %v", err)
		}
		cs = append(cs, c)
	}
	changes(
		func(jb *job.Job) { add(j.Put(jb)) },
		func(jb *job.Job) { add(j.Update(jb)) },
		func(id job.ID) { add(j.Delete(id)) })
	for i, c := range cs {
		if err := c.Wait(); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
}

func TestTakeoverRestoresEveryAcknowledgedChange(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leaders := campaign(ctx, nodes)
	first := next(t, leaders)
	if first.l.Term() != 1 {
		t.Fatalf("first term = %d, want 1", first.l.Term())
	}
	if jobs, nextID := first.l.Restored(); len(jobs) != 0 || nextID != 1 {
		t.Fatalf("a new cluster restores %d jobs, next id %d; want 0 and 1", len(jobs), nextID)
	}

	want := map[job.ID]*job.Job{}
	write(t, nodes[first.i].Journal(), func(put func(*job.Job), upd func(*job.Job), del func(job.ID)) {
		for id := job.ID(1); id <= 300; id++ {
			j := testJob(id, job.Ready)
			put(j)
			want[id] = j
		}
		for id := job.ID(1); id <= 300; id += 3 {
			j := testJob(id, job.Buried)
			upd(j)
			want[id] = j
		}
		for id := job.ID(2); id <= 300; id += 3 {
			del(id)
			delete(want, id)
		}
		// The highest id is deleted too: the id sequence must survive.
		del(300)
		delete(want, 300)
	})

	crash(nodes[first.i])
	second := next(t, leaders)
	if second.i == first.i {
		t.Fatal("the crashed node leads again")
	}
	if second.l.Term() != 2 {
		t.Fatalf("second term = %d, want 2", second.l.Term())
	}
	jobs, nextID := second.l.Restored()
	if nextID != 301 {
		t.Errorf("next id after takeover = %d, want 301", nextID)
	}
	if len(jobs) != len(want) {
		t.Fatalf("restored %d jobs, want %d", len(jobs), len(want))
	}
	for i, j := range jobs {
		if i > 0 && jobs[i-1].ID >= j.ID {
			t.Fatalf("restored jobs not in id order at %d: %d then %d", i, jobs[i-1].ID, j.ID)
		}
		if w := want[j.ID]; !reflect.DeepEqual(j, w) {
			t.Fatalf("job %d restored as\n%+v\nwant\n%+v", j.ID, j, w)
		}
	}
}

// TestTakeoverKeepsScheduleTicks: the last tick of each schedule, written
// through the journal as the engine does before a tick's put, is handed
// to the next leader, and a tick's job id is never handed out again.
func TestTakeoverKeepsScheduleTicks(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leaders := campaign(ctx, nodes)
	first := next(t, leaders)
	if ticks := first.l.Ticks(); len(ticks) != 0 {
		t.Fatalf("a new cluster restores ticks %v; want none", ticks)
	}
	j := nodes[first.i].Journal()
	base := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	want := map[string]time.Time{}
	var cs []journal.Commit
	for i, name := range []string{"nightly", "every hour.with dots", "nightly", "ünïcode *>"} {
		at := base.Add(time.Duration(i) * time.Hour)
		c, err := j.Tick(name, at, job.ID(i+1))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		if i < 3 { // the last tick's job is never put: its id is used all the same
			c, err := j.Put(testJob(job.ID(i+1), job.Ready))
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		want[name] = at
	}
	for _, c := range cs {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	crash(nodes[first.i])
	second := next(t, leaders)
	got := second.l.Ticks()
	if len(got) != len(want) {
		t.Fatalf("restored ticks %v, want %v", got, want)
	}
	for name, at := range want {
		if !got[name].Equal(at) {
			t.Fatalf("tick of %q restored as %v, want %v", name, got[name], at)
		}
	}
	if _, nextID := second.l.Restored(); nextID != 5 {
		t.Fatalf("next id after takeover = %d, want 5 (above the last tick's job)", nextID)
	}
}
