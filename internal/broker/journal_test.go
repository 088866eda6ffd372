package broker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
)

func TestJournalRecordsChanges(t *testing.T) {
	m := newMemJournal()
	b, clk := newTest(t, m)
	s := open(t, b)
	a := mustPut(t, s, 0, 0, time.Minute, "a")
	d := mustPut(t, s, 0, time.Minute, time.Minute, "d")
	mustReserve(t, s, a)
	if err := s.Touch(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(a, 5, 0); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, s, a)
	if err := s.Bury(a, 5); err != nil {
		t.Fatal(err)
	}
	if n := s.Kick(1); n != 1 {
		t.Fatal("kick")
	}
	if err := s.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveJob(d); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // TTR expiry: not journaled (ready after restart anyway)
	want := []string{
		"put 1 ready", "put 2 delayed",
		"update 1 ready", "update 1 buried", "update 1 ready", "delete 1",
		"update 2 reserved",
	}
	if got := m.take(); !slices.Equal(got, want) {
		t.Fatalf("journal calls\n got %q\nwant %q", got, want)
	}
}

func TestJournalPutFailureKeepsNothing(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	s := open(t, b)
	s.Use("t")
	m.failPut = errDiskFull
	if _, err := s.Put(0, 0, time.Minute, []byte("x")); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("put: %v", err)
	}
	m.failPut = nil
	m.commitE = errDiskFull // written, but the fsync fails
	if _, err := s.Put(0, 0, time.Minute, []byte("y")); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("put with failed commit: %v", err)
	}
	m.commitE = nil
	if st := b.Stats(); st.CurrentJobsReady != 0 || st.TotalJobs != 0 {
		t.Fatalf("a refused put left a job: %+v", st)
	}
	if got := m.take(); !slices.Equal(got, []string{"put 2 ready", "delete 2"}) {
		t.Fatalf("calls %q", got)
	}
	id := mustPut(t, s, 0, 0, time.Minute, "z")
	if id != 3 {
		t.Fatalf("ids are never reused: got %d, want 3", id)
	}
}

func TestJournalUpdateFailureUndoes(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	m.failAll = errDiskFull
	if err := s.Release(id, 9, time.Minute); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("release: %v", err)
	}
	if err := s.Bury(id, 9); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("bury: %v", err)
	}
	if err := s.Delete(id); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("delete: %v", err)
	}
	js, _ := b.StatsJob(id)
	if js.State != job.Reserved || js.Priority != 0 || js.Releases != 0 || js.Buries != 0 {
		t.Fatalf("job changed although the log refused: %+v", js)
	}
	m.failAll = nil
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
}

func TestRestore(t *testing.T) {
	m := newMemJournal()
	b1, clk := newTest(t, m)
	s := open(t, b1)
	s.Use("q")
	ready := mustPut(t, s, 3, 0, time.Minute, "ready")
	delayed := mustPut(t, s, 0, 10*time.Second, time.Minute, "delayed")
	b2id := mustPut(t, s, 0, 0, time.Minute, "buried2")
	b1id := mustPut(t, s, 0, 0, time.Minute, "buried1")
	reserved := mustPut(t, s, 1, 0, time.Minute, "reserved")
	s.Watch("q")
	for _, id := range []job.ID{reserved, b1id, b2id} {
		if _, err := s.ReserveJob(id); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	s.Bury(b1id, 0)
	clk.Advance(time.Second)
	s.Bury(b2id, 0)

	// A new engine from what the log holds, 3 s after the put.
	b2 := New(Config{Clock: clk})
	t.Cleanup(b2.Close)
	b2.Restore(m.snapshot(), 8)
	w := b2.Open()
	defer w.Close()
	w.Watch("q")
	st := b2.Stats()
	if st.CurrentJobsReady != 2 || st.CurrentJobsDelayed != 1 || st.CurrentJobsBuried != 2 {
		t.Fatalf("restored stats %+v", st)
	}
	if p, _ := b2.PeekBuried("q"); p.ID != b1id {
		t.Fatalf("burial order lost: first buried %d, want %d", p.ID, b1id)
	}
	mustReserve(t, w, reserved) // pri 1 before pri 3
	mustReserve(t, w, ready)
	if js, _ := b2.StatsJob(delayed); js.TimeLeft != 8*time.Second {
		t.Fatalf("delay not absolute: %+v", js)
	}
	clk.Advance(8 * time.Second)
	mustReserve(t, w, delayed)
	w.Use("q")
	if id, _ := w.Put(0, 0, time.Second, nil); id != 8 {
		t.Fatalf("next id %d, want 8", id)
	}
}

// TestRestoreKeepsRetryScheduleAndHistory restarts in the middle of a retry
// schedule: the next attempt time and the failure history come back.
func TestRestoreKeepsRetryScheduleAndHistory(t *testing.T) {
	m := newMemJournal()
	p := &policy.Policy{Retry: doubling(5)}
	b1, s, _, advance := newPolicyTest(t, policyFor(p, "work"), m)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	if _, err := s.Fail(id, "first"); err != nil {
		t.Fatal(err)
	}
	advance(10 * time.Second)
	mustReserve(t, s, id)
	res, err := s.Fail(id, "second")
	if err != nil || res.Action != FailRetry {
		t.Fatal(res, err)
	}
	advance(5 * time.Second)
	want, _ := b1.StatsJob(id)

	b2, _ := newTest(t, nil)
	b2.clock = b1.clock
	b2.setLookup(policyFor(p, "work"))
	b2.Restore(m.snapshot(), b1.NextID()+1)
	got, err := b2.StatsJob(id)
	if err != nil || got.State != job.Delayed || got.TimeLeft != 15*time.Second || got.Failure != want.Failure {
		t.Fatalf("restored %+v %v\nwant %+v", got, err, want)
	}
	w := b2.Open()
	defer w.Close()
	w.Watch("work")
	advance(15 * time.Second)
	mustReserve(t, w, id)
	res, _ = w.Fail(id, "third")
	if res.Attempts != 3 || res.Action != FailRetry {
		t.Fatalf("after restart %+v", res)
	}
}
