package broker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/poll"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newTest returns a broker on a fake clock, closed at the end of the test.
func newTest(t *testing.T, j journal.Journal) (*Broker, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	b := New(Config{Clock: clk, Journal: j, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(b.Close)
	return b, clk
}

func open(t *testing.T, b *Broker) *Session {
	t.Helper()
	s := b.Open()
	t.Cleanup(s.Close)
	return s
}

func mustPut(t *testing.T, s *Session, pri uint32, delay, ttr time.Duration, body string) job.ID {
	t.Helper()
	id, err := s.Put(pri, delay, ttr, []byte(body))
	if err != nil {
		t.Fatalf("put %q: %v", body, err)
	}
	return id
}

// reserveNow reserves without waiting.
func reserveNow(t *testing.T, s *Session) (Reserved, error) {
	t.Helper()
	return s.Reserve(context.Background(), 0)
}

func mustReserve(t *testing.T, s *Session, want job.ID) {
	t.Helper()
	r, err := reserveNow(t, s)
	if err != nil {
		t.Fatalf("reserve: %v, want job %d", err, want)
	}
	if r.ID != want {
		t.Fatalf("reserved job %d, want %d", r.ID, want)
	}
}

// blocked is a Reserve running in its own goroutine.
type blocked struct {
	done chan struct{}
	res  Reserved
	err  error
}

// startReserve runs s.Reserve in a goroutine (owned by the test, which
// waits for it in result) and returns once the session is waiting.
func startReserve(t *testing.T, b *Broker, s *Session, ctx context.Context, timeout time.Duration) *blocked {
	t.Helper()
	bl := &blocked{done: make(chan struct{})}
	go func() {
		defer close(bl.done)
		bl.res, bl.err = s.Reserve(ctx, timeout)
	}()
	poll.Until(t, "the session waits in Reserve", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return s.waiting
	})
	return bl
}

// result waits for the Reserve to return.
func (bl *blocked) result(t *testing.T) (Reserved, error) {
	t.Helper()
	select {
	case <-bl.done:
	case <-time.After(10 * time.Second):
		t.Fatal("reserve did not return")
	}
	return bl.res, bl.err
}

// returned reports whether the Reserve has returned, without waiting.
func (bl *blocked) returned() bool {
	select {
	case <-bl.done:
		return true
	default:
		return false
	}
}

// memJournal is an in-memory twin of the durable log: it keeps the last
// record of every job and the sequence of calls, and can be told to fail.
type memJournal struct {
	mu      sync.Mutex // protects all fields
	calls   []string
	jobs    map[job.ID]job.Job
	failPut error
	failAll error
	commitE error
	// holdPut, when set, is what the next puts' commits wait for: each
	// Wait returns the error received from it.
	holdPut chan error
}

type heldCommit struct{ ch chan error }

func (c heldCommit) Wait() error { return <-c.ch }

func newMemJournal() *memJournal { return &memJournal{jobs: map[job.ID]job.Job{}} }

type doneCommit struct{ err error }

func (c doneCommit) Wait() error { return c.err }

func (m *memJournal) Put(j *job.Job) (journal.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		return nil, m.failPut
	}
	if m.failAll != nil {
		return nil, m.failAll
	}
	m.calls = append(m.calls, "put "+itoa(j.ID)+" "+j.State.String())
	c := *j
	if j.Failure != nil {
		f := *j.Failure
		c.Failure = &f
	}
	m.jobs[j.ID] = c
	if m.holdPut != nil {
		return heldCommit{m.holdPut}, nil
	}
	return doneCommit{m.commitE}, nil
}

func (m *memJournal) Update(j *job.Job) (journal.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAll != nil {
		return nil, m.failAll
	}
	m.calls = append(m.calls, "update "+itoa(j.ID)+" "+j.State.String())
	c := *j
	if j.Failure != nil {
		f := *j.Failure
		c.Failure = &f
	}
	m.jobs[j.ID] = c
	return doneCommit{m.commitE}, nil
}

func (m *memJournal) Delete(id job.ID) (journal.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAll != nil {
		return nil, m.failAll
	}
	m.calls = append(m.calls, "delete "+itoa(id))
	delete(m.jobs, id)
	return doneCommit{m.commitE}, nil
}

// take returns and clears the calls so far.
func (m *memJournal) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

// snapshot returns the jobs as the log would replay them.
func (m *memJournal) snapshot() []*job.Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*job.Job
	for _, j := range m.jobs {
		c := j
		out = append(out, &c)
	}
	return out
}

var errDiskFull = errors.New("disk full")

func itoa(id job.ID) string {
	if id == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for id > 0 {
		i--
		b[i] = byte('0' + id%10)
		id /= 10
	}
	return string(b[i:])
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
