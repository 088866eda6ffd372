// Package crashcheck is the shared part of the crash tests (of the
// single-node log, internal/wal/crashtest, and of cluster mode,
// internal/cluster/crashtest): clients that put, delete, bury, kick and
// release jobs on a real server until it dies, a History of every change
// the server acknowledged, the check of a server that took over against
// it, and the real `reprieve serve` processes the tests kill.
package crashcheck

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
)

// Operations counted by History.
const (
	Put = iota
	Delete
	Bury
	Kick
	Release
	numOps
)

// expect is what the test knows of a job: its body, the state its last
// acknowledged change left it in, and whether a change was in flight when
// the server died (then either outcome is right, and the next check
// adopts the server's).
type expect struct {
	body   string
	state  string // ready, delayed, buried, deleted
	unsure bool
}

// History is every change a server acknowledged, shared by the workers.
// The zero value is not usable; call NewHistory.
type History struct {
	mu    sync.Mutex // protects jobs and maxID
	jobs  map[uint64]*expect
	maxID uint64
	acks  atomic.Int64
	ops   [numOps]atomic.Int64
}

// NewHistory returns an empty History.
func NewHistory() *History { return &History{jobs: map[uint64]*expect{}} }

func (h *History) set(id uint64, f func(e *expect)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.jobs[id]
	if e == nil {
		e = &expect{}
		h.jobs[id] = e
	}
	f(e)
	h.maxID = max(h.maxID, id)
}

func (h *History) ack(op int) { h.acks.Add(1); h.ops[op].Add(1) }

// Acks returns how many changes were acknowledged so far.
func (h *History) Acks() int64 { return h.acks.Load() }

// Count returns how many changes of op (Put, Delete, …) were acknowledged.
func (h *History) Count(op int) int64 { return h.ops[op].Load() }

// WaitAcks blocks until n more changes than at the call are
// acknowledged, or fails t after d: the workers are going.
func (h *History) WaitAcks(t testing.TB, n int64, d time.Duration) {
	t.Helper()
	for acks, deadline := h.acks.Load(), time.Now().Add(d); h.acks.Load() < acks+n; {
		if time.Now().After(deadline) {
			t.Fatalf("the workers got no acknowledgement in %v", d)
		}
		time.Sleep(time.Millisecond)
	}
}

// Work drives one connection to addr, tube "w<w>", until it fails (the
// server died or dropped it): puts, deletes, buries, kicks and releases
// with a delay, each recorded once acknowledged.
func (h *History) Work(addr string, w int, seed uint64) {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	tube := beanstalk.NewTube(c, fmt.Sprintf("w%d", w))
	state := map[uint64]string{}
	var mine []uint64
	for n := 0; ; n++ {
		if len(mine) == 0 || r.IntN(3) == 0 {
			body := fmt.Sprintf("w%d-%d-%x", w, n, r.Uint64())
			id, err := tube.Put([]byte(body), 100, 0, time.Minute)
			if err != nil {
				return // an unacknowledged put: its id is unknown, nothing to check
			}
			h.set(id, func(e *expect) { e.body, e.state = body, "ready" })
			h.ack(Put)
			mine = append(mine, id)
			state[id] = "ready"
			continue
		}
		i := r.IntN(len(mine))
		id := mine[i]
		done := func(st string, op int) {
			h.set(id, func(e *expect) { e.state, e.unsure = st, false })
			h.ack(op)
			state[id] = st
		}
		switch st := state[id]; {
		case r.IntN(3) == 0:
			h.set(id, func(e *expect) { e.unsure = true })
			if err := c.Delete(id); err != nil {
				return
			}
			done("deleted", Delete)
			mine = slices.Delete(mine, i, i+1)
			delete(state, id)
		case st == "buried":
			h.set(id, func(e *expect) { e.unsure = true })
			if err := c.KickJob(id); err != nil {
				return
			}
			done("ready", Kick)
		case st == "ready":
			h.set(id, func(e *expect) { e.unsure = true })
			if _, err := c.ReserveJob(id); err != nil {
				return
			}
			if r.IntN(2) == 0 {
				if err := c.Bury(id, 50); err != nil {
					return
				}
				done("buried", Bury)
			} else {
				if err := c.Release(id, 60, time.Hour); err != nil {
					return
				}
				done("delayed", Release)
			}
		}
	}
}

// Check compares every job of h with what the server at addr holds,
// failing t on the first acknowledged change lost or undone; jobs whose
// change was in flight take the server's state. It returns how many
// jobs it checked against an acknowledged state and how many were in
// flight.
func (h *History) Check(t testing.TB, addr string, round int) (checked, unsure int) {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, e := range h.jobs {
		body, perr := c.Peek(id)
		got := "deleted"
		if perr == nil {
			st, err := c.StatsJob(id)
			if err != nil {
				t.Fatalf("round %d: stats-job %d: %v", round, id, err)
			}
			got = st["state"]
		} else if !errors.Is(perr, beanstalk.ErrNotFound) {
			t.Fatalf("round %d: peek %d: %v", round, id, perr)
		}
		if e.unsure {
			unsure++
			if got != "deleted" && string(body) != e.body {
				t.Fatalf("round %d: job %d (change in flight) has body %q, want %q", round, id, body, e.body)
			}
			e.state, e.unsure = got, false
			continue
		}
		checked++
		switch {
		case e.state == "deleted" && got != "deleted":
			t.Fatalf("round %d: job %d was deleted (acknowledged) but is back, %s", round, id, got)
		case e.state != "deleted" && got == "deleted":
			t.Fatalf("round %d: job %d (acknowledged %s) is lost", round, id, e.state)
		case e.state != "deleted" && string(body) != e.body:
			t.Fatalf("round %d: job %d body %q, want %q", round, id, body, e.body)
		case e.state != "deleted" && got != e.state:
			t.Fatalf("round %d: job %d is %s, want %s", round, id, got, e.state)
		}
	}
	for id, e := range h.jobs {
		if e.state == "deleted" {
			delete(h.jobs, id) // checked once after its delete; keeps checks quick
		}
	}
	return checked, unsure
}

// Probe puts and deletes a job at addr, failing t if its id is not above
// every acknowledged one (an id reused); it reports whether the put was
// answered.
func (h *History) Probe(t testing.TB, addr string) bool {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	id, err := c.Put([]byte("probe"), 1, 0, time.Minute)
	if err != nil {
		return false
	}
	h.mu.Lock()
	maxID := h.maxID
	h.mu.Unlock()
	if id <= maxID {
		t.Fatalf("the server gave id %d, not above the highest acknowledged id %d: ids reused", id, maxID)
	}
	if err := c.Delete(id); err != nil {
		t.Fatalf("delete probe %d: %v", id, err)
	}
	return true
}

// Summary is the line a crash test reports: the acknowledged changes by
// kind.
func (h *History) Summary() string {
	return fmt.Sprintf("acknowledged puts %d, deletes %d, buries %d, kicks %d, releases with delay %d",
		h.Count(Put), h.Count(Delete), h.Count(Bury), h.Count(Kick), h.Count(Release))
}
