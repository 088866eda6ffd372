package broker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
)

// StartPut logs a job and leaves it invisible; FinishPut waits for the
// log and answers as Put would. Several sessions' puts can be started
// before any is finished.
func TestStartPutHoldsTheJobUntilFinishPut(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	s1, s2, w := open(t, b), open(t, b), open(t, b)
	for _, s := range []*Session{s1, s2} {
		id, wait, err := s.StartPut(0, 0, time.Minute, []byte("x"))
		if id != 0 || !wait || err != nil {
			t.Fatalf("StartPut = %d, %v, %v; want 0, true, nil", id, wait, err)
		}
	}
	if got := m.take(); !slices.Equal(got, []string{"put 1 ready", "put 2 ready"}) {
		t.Fatalf("journal calls %q", got)
	}
	if _, err := b.PeekReady("default"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a started put is visible: %v", err)
	}
	if _, err := w.Reserve(context.Background(), 0); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("a started put was reserved: %v", err)
	}
	if id, err := s2.FinishPut(); id != 2 || err != nil {
		t.Fatalf("FinishPut = %d, %v; want 2", id, err)
	}
	if id, err := s1.FinishPut(); id != 1 || err != nil {
		t.Fatalf("FinishPut = %d, %v; want 1", id, err)
	}
	if st := b.Stats(); st.CurrentJobsReady != 2 || st.TotalJobs != 2 {
		t.Fatalf("after FinishPut: %d ready, %d in all; want 2, 2", st.CurrentJobsReady, st.TotalJobs)
	}
	if _, err := s1.FinishPut(); !errors.Is(err, ErrClosed) {
		t.Fatalf("FinishPut with no put started: %v, want ErrClosed", err)
	}

	// A commit that fails: nothing is kept, the log is told the record
	// is void.
	m.commitE = errDiskFull
	if _, wait, err := s1.StartPut(0, 0, time.Minute, []byte("y")); !wait || err != nil {
		t.Fatalf("StartPut = %v, %v", wait, err)
	}
	if _, err := s1.FinishPut(); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("FinishPut after a failed commit: %v, want ErrOutOfMemory", err)
	}
	m.commitE = nil
	if got := m.take(); !slices.Equal(got, []string{"put 3 ready", "delete 3"}) {
		t.Fatalf("journal calls %q", got)
	}

	// Close finishes a started put: the job is kept.
	s3 := b.Open()
	if _, wait, err := s3.StartPut(0, 0, time.Minute, []byte("z")); !wait || err != nil {
		t.Fatalf("StartPut = %v, %v", wait, err)
	}
	s3.Close()
	if p, err := b.Peek(4); err != nil || string(p.Body) != "z" {
		t.Fatalf("the put Close finished: %+v, %v", p, err)
	}
}

// Without a journal nothing waits: StartPut answers the put.
func TestStartPutInMemoryAnswersAtOnce(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	id, wait, err := s.StartPut(0, 0, time.Minute, []byte("x"))
	if id != 1 || wait || err != nil {
		t.Fatalf("StartPut = %d, %v, %v; want 1, false, nil", id, wait, err)
	}
	if _, err := b.PeekReady("default"); err != nil {
		t.Fatalf("the job is not ready: %v", err)
	}
}

// A put of a unique key whose first job another session's StartPut is
// still logging: its StartPut does not wait (the caller may have that
// session's FinishPut still to run), its FinishPut does.
func TestStartPutOfADuplicateWaitsInFinishPut(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	b.setLookup(policyFor(&policy.Policy{Unique: &policy.Unique{Window: time.Hour}}, "u"))
	ss := make([]*Session, 3)
	for i := range ss {
		ss[i] = open(t, b)
		ss[i].Use("u")
	}
	start := func(s *Session) {
		t.Helper()
		if id, wait, err := s.StartPut(0, 0, time.Minute, []byte("same")); id != 0 || !wait || err != nil {
			t.Fatalf("StartPut = %d, %v, %v; want 0, true, nil", id, wait, err)
		}
	}
	del := func(s *Session, id job.ID) {
		t.Helper()
		if err := s.Delete(id); err != nil {
			t.Fatalf("delete %d: %v", id, err)
		}
	}
	finish := func(s *Session, want job.ID, wantErr error) {
		t.Helper()
		if id, err := s.FinishPut(); id != want || !errors.Is(err, wantErr) {
			t.Fatalf("FinishPut = %d, %v; want %d, %v", id, err, want, wantErr)
		}
	}

	// Logged: the duplicate gets the first job's id.
	start(ss[0])
	start(ss[1])
	finish(ss[0], 1, nil)
	finish(ss[1], 1, nil)
	if got := m.take(); !slices.Equal(got, []string{"put 1 ready"}) {
		t.Fatalf("journal calls %q", got)
	}
	del(ss[0], 1)
	m.take()

	// The first put refused by the log, its duplicate started meanwhile.
	refusedFirst := func() {
		t.Helper()
		m.commitE = errDiskFull
		start(ss[0])
		start(ss[1])
		m.commitE = nil
		finish(ss[0], 0, ErrOutOfMemory)
	}

	// Refused: the duplicate is a put of its own.
	refusedFirst()
	finish(ss[1], 3, nil)
	del(ss[1], 3)
	m.take()

	// Refused, and by then a third session logs the key again: the
	// duplicate's own put would wait for it, which its caller may finish
	// only afterwards (a deadlock on one goroutine, as here): refused.
	refusedFirst()
	start(ss[2])
	finish(ss[1], 0, ErrOutOfMemory)
	finish(ss[2], 5, nil)
	if ts := tubeStats(t, b, "u"); ts.TotalJobs != 3 || ts.CurrentJobsReady != 1 || ts.Duplicates != 1 {
		t.Fatalf("total jobs %d, ready %d, duplicates %d; want 3, 1, 1", ts.TotalJobs, ts.CurrentJobsReady, ts.Duplicates)
	}
	if n := waitingOnPending(b); n != 0 {
		t.Fatalf("%d waits left behind", n)
	}
	checkInvariants(t, b)
}
