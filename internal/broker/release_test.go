package broker

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// waitJournal wraps memJournal and records, next to each call, whether
// the engine waited for its Commit before answering.
type waitJournal struct {
	*memJournal
	mu     sync.Mutex // protects events
	events []string
}

type waitedCommit struct {
	j    *waitJournal
	what string
}

func (c waitedCommit) Wait() error {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	c.j.events = append(c.j.events, "wait "+c.what)
	return nil
}

func (j *waitJournal) note(what string) journal.Commit {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, what)
	return waitedCommit{j, what}
}

func (j *waitJournal) Put(jb *job.Job) (journal.Commit, error) {
	if _, err := j.memJournal.Put(jb); err != nil {
		return nil, err
	}
	return j.note("put " + itoa(jb.ID)), nil
}

func (j *waitJournal) Update(jb *job.Job) (journal.Commit, error) {
	if _, err := j.memJournal.Update(jb); err != nil {
		return nil, err
	}
	return j.note("update " + itoa(jb.ID) + " " + jb.State.String() + " pri " + itoa(job.ID(jb.Priority))), nil
}

func (j *waitJournal) Delete(id job.ID) (journal.Commit, error) {
	if _, err := j.memJournal.Delete(id); err != nil {
		return nil, err
	}
	return j.note("delete " + itoa(id)), nil
}

func (j *waitJournal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.events
	j.events = nil
	return e
}

// TestReleaseWaitsOnlyWithDelay: a release with delay 0 is journaled but
// its Commit is not awaited (a lost one replays as ready anyway); a
// release with a delay, like a put or a delete, is awaited.
func TestReleaseWaitsOnlyWithDelay(t *testing.T) {
	m := &waitJournal{memJournal: newMemJournal()}
	b, _ := newTest(t, m)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	if err := s.Release(id, 7, 0); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, s, id)
	if err := s.Release(id, 8, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveJob(id); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"put 1", "wait put 1",
		"update 1 ready pri 7", // written, not awaited
		"update 1 delayed pri 8", "wait update 1 delayed pri 8",
		"update 1 reserved pri 8", "wait update 1 reserved pri 8",
		"delete 1", "wait delete 1",
	}
	if got := m.take(); !slices.Equal(got, want) {
		t.Fatalf("journal events\n got %q\nwant %q", got, want)
	}
}

// TestReleaseWithoutDelayRefusedByJournal: a release the journal cannot
// take is refused and undone even though it would not be waited for.
func TestReleaseWithoutDelayRefusedByJournal(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	m.failAll = errDiskFull
	if err := s.Release(id, 9, 0); err != ErrOutOfMemory {
		t.Fatalf("release: %v, want ErrOutOfMemory", err)
	}
	js, _ := b.StatsJob(id)
	if js.State != job.Reserved || js.Priority != 0 || js.Releases != 0 {
		t.Fatalf("job changed although the log refused: %+v", js)
	}
}
