package broker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
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
