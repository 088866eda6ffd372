package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/poll"
)

type putResult struct {
	id  job.ID
	err error
}

// putAsync puts body from a new session on tube u and sends the outcome.
func putAsync(t *testing.T, b *Broker, body string) <-chan putResult {
	s := open(t, b)
	s.Use("u")
	ch := make(chan putResult, 1)
	go func() {
		id, err := s.Put(0, 0, time.Minute, []byte(body))
		ch <- putResult{id, err}
	}()
	return ch
}

// waitingOnPending reports how many pending puts of tube u have
// duplicates waiting for their outcome.
func waitingOnPending(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tube("u", false)
	if t == nil || t.limits == nil {
		return 0
	}
	return len(t.limits.settling)
}

// A put that duplicates a job still being logged is answered only once
// that job is durable, with its id; if the log refuses that job, the
// duplicate becomes a job of its own. Answering at once would hand the
// client the id of a job that may never exist.
func TestUniqueDuplicateOfAPendingPut(t *testing.T) {
	for _, tt := range []struct {
		name    string
		outcome error // of the first put's commit
	}{
		{"logged", nil},
		{"refused", errDiskFull},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemJournal()
			b, _ := newTest(t, m)
			b.setLookup(policyFor(&policy.Policy{Unique: &policy.Unique{Window: time.Hour}}, "u"))
			hold := make(chan error)
			m.mu.Lock()
			m.holdPut = hold
			m.mu.Unlock()

			first := putAsync(t, b, "same")
			poll.Until(t, "the first put is being logged", func() bool {
				m.mu.Lock()
				defer m.mu.Unlock()
				return len(m.calls) == 1
			})
			dup := putAsync(t, b, "same")
			poll.Until(t, "the duplicate waits for the first put", func() bool { return waitingOnPending(b) == 1 })

			m.mu.Lock()
			m.holdPut = nil // the duplicate's own put, if any, commits at once
			m.mu.Unlock()
			hold <- tt.outcome

			a := poll.Receive(t, "the first put's answer", first)
			d := poll.Receive(t, "the duplicate's answer", dup)
			ts := tubeStats(t, b, "u")
			if tt.outcome == nil {
				if a.err != nil || d.err != nil || a.id != 1 || d.id != 1 {
					t.Fatalf("first %+v, duplicate %+v: want both id 1", a, d)
				}
				if ts.Duplicates != 1 || ts.TotalJobs != 1 {
					t.Fatalf("duplicates %d, total jobs %d: want 1 and 1", ts.Duplicates, ts.TotalJobs)
				}
			} else {
				if !errors.Is(a.err, ErrOutOfMemory) {
					t.Fatalf("first put: %v, want ErrOutOfMemory", a.err)
				}
				if d.err != nil || d.id != 2 {
					t.Fatalf("duplicate %+v: want a job of its own, id 2", d)
				}
				if ts.Duplicates != 0 || ts.TotalJobs != 1 || ts.CurrentJobsReady != 1 {
					t.Fatalf("duplicates %d, total jobs %d, ready %d: want 0, 1, 1", ts.Duplicates, ts.TotalJobs, ts.CurrentJobsReady)
				}
			}
			if n := waitingOnPending(b); n != 0 {
				t.Fatalf("%d waits left behind", n)
			}
			checkInvariants(t, b)
		})
	}
}
