package broker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
)

// checkInvariants verifies that every job is where its state says, that
// the heaps are ordered and that every counter matches what it counts.
func checkInvariants(t *testing.T, b *Broker) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("invariant: "+format, a...)
	}
	heapOK := func(name string, h *jobHeap) {
		for i, r := range h.a {
			if r.idx != i {
				fail("%s: job %d has idx %d at %d", name, r.ID, r.idx, i)
			}
			if i > 0 && h.less(r, h.a[(i-1)/2]) {
				fail("%s: heap order broken at %d", name, i)
			}
		}
	}
	var ready, delayed, buried, reserved, urgent int
	using := map[*tube]int{}
	watching := map[*tube]int{}
	waitingSessions := 0
	for s := b.firstSess; s != nil; s = s.next {
		using[s.use]++
		for _, w := range s.watch {
			watching[w]++
		}
		heapOK("reserved", &s.reserved)
		for _, r := range s.reserved.a {
			if r.State != job.Reserved || r.owner != s || b.jobs.get(r.ID) != r {
				fail("reserved job %d misplaced", r.ID)
			}
		}
		reserved += s.reserved.len()
		if s.waiting {
			waitingSessions++
		}
	}
	if waitingSessions != b.nWaiting {
		fail("nWaiting %d, sessions waiting %d", b.nWaiting, waitingSessions)
	}
	n := 0
	for tb := b.firstTube; tb != nil; tb = tb.next {
		n++
		if b.tubes[tb.name] != tb || tb.dropped {
			fail("tube %q listed but not in map", tb.name)
		}
		heapOK(tb.name+" ready", &tb.ready)
		heapOK(tb.name+" delay", &tb.delay)
		heapOK(tb.name+" buried", &tb.buried)
		u, bytes := 0, 0
		for _, r := range tb.ready.a {
			if r.State != job.Ready || r.tube != tb || b.jobs.get(r.ID) != r {
				fail("ready job %d misplaced", r.ID)
			}
			if isUrgent(r) {
				u++
			}
		}
		for _, r := range tb.delay.a {
			if r.State != job.Delayed || r.tube != tb || b.jobs.get(r.ID) != r {
				fail("delayed job %d misplaced", r.ID)
			}
		}
		for _, r := range tb.buried.a {
			if r.State != job.Buried || r.tube != tb || b.jobs.get(r.ID) != r {
				fail("buried job %d misplaced", r.ID)
			}
			bytes += len(r.Body)
		}
		if u != tb.urgent || bytes != tb.buriedBytes {
			fail("tube %q urgent %d/%d bytes %d/%d", tb.name, u, tb.urgent, bytes, tb.buriedBytes)
		}
		if using[tb] != tb.using || watching[tb] != tb.watching {
			fail("tube %q using %d/%d watching %d/%d", tb.name, using[tb], tb.using, watching[tb], tb.watching)
		}
		w := 0
		for nd := tb.waitHead; nd != nil; nd = nd.next {
			if !nd.s.waiting {
				fail("tube %q lists a session that is not waiting", tb.name)
			}
			w++
		}
		if w != tb.nWait {
			fail("tube %q nWait %d, listed %d", tb.name, tb.nWait, w)
		}
		if tb != b.dflt && tb.using == 0 && tb.watching == 0 && tb.pending == 0 && tb.jobs() == 0 {
			fail("tube %q should have been removed", tb.name)
		}
		if w > 0 && tb.ready.len() > 0 && !tb.paused(b.now()) && b.limitHolds(tb, b.now()) == "" {
			fail("tube %q has ready jobs and waiting sessions, and no limit holds them", tb.name)
		}
		checkLimits(t, b, tb)
		ready += tb.ready.len()
		delayed += tb.delay.len()
		buried += tb.buried.len()
		urgent += u
	}
	if n != len(b.tubes) {
		fail("%d tubes listed, %d in map", n, len(b.tubes))
	}
	if ready != b.nReady || delayed != b.nDelayed || buried != b.nBuried || reserved != b.nReserved || urgent != b.nUrgent {
		fail("counters ready %d/%d delayed %d/%d buried %d/%d reserved %d/%d urgent %d/%d",
			ready, b.nReady, delayed, b.nDelayed, buried, b.nBuried, reserved, b.nReserved, urgent, b.nUrgent)
	}
	if b.jobs.len() != ready+delayed+buried+reserved {
		fail("%d jobs in table, %d placed", b.jobs.len(), ready+delayed+buried+reserved)
	}
}

// TestRandomOperations drives the engine with random operations on a fake
// clock, with policies on some tubes, and checks every invariant after
// each step.
func TestRandomOperations(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			m := newMemJournal()
			b, clk := newTest(t, m)
			b.setLookup(func(name string) *policy.Policy {
				switch name {
				case "t1":
					return &policy.Policy{Retry: doubling(3), GiveUp: policy.GiveUp{Action: policy.DeadLetter, Tube: "dead"}, ReadyExpiry: 90 * time.Second}
				case "dead":
					return &policy.Policy{Retention: policy.Retention{MaxCount: 3, MaxAge: 5 * time.Minute}}
				case "t2":
					return &policy.Policy{Retry: doubling(2), GiveUp: policy.GiveUp{Action: policy.Delete}, Retention: policy.Retention{MaxBytes: 10},
						Rate: &policy.Rate{Limit: 1, Per: 15 * time.Second, Burst: 2}}
				case "t3":
					return &policy.Policy{Concurrency: 2, Unique: &policy.Unique{Buried: rng.IntN(2) == 0}}
				case "default":
					return &policy.Policy{Concurrency: 1}
				}
				return nil
			})
			tubes := []string{"default", "t1", "t2", "t3", "dead"}
			var sessions []*Session
			for i := 0; i < 4; i++ {
				sessions = append(sessions, open(t, b))
			}
			// Two sessions block in reserve meanwhile, each in its own
			// goroutine, deleting or failing what they get.
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			for i, name := range []string{"t1", "t2"} {
				w := open(t, b)
				w.Watch(name)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ctx.Err() == nil; n++ {
						r, err := w.Reserve(ctx, 5*time.Second)
						if err != nil {
							if err == ErrDeadlineSoon || err == ErrTimedOut {
								runtime.Gosched()
								continue
							}
							return
						}
						if (n+i)%2 == 0 {
							w.Delete(r.ID)
						} else {
							w.Fail(r.ID, "err")
						}
					}
				}()
			}
			pick := func() job.ID { return job.ID(rng.IntN(int(b.NextID())+2) + 0) }
			for step := 0; step < 400; step++ {
				s := sessions[rng.IntN(len(sessions))]
				switch rng.IntN(16) {
				case 0, 1, 2:
					s.Put(uint32(rng.IntN(2000)), time.Duration(rng.IntN(3))*10*time.Second, time.Duration(rng.IntN(20))*time.Second, []byte(fmt.Sprint("body", rng.IntN(4))))
				case 3, 4:
					s.Reserve(context.Background(), 0)
				case 5:
					s.Delete(pick())
				case 6:
					s.Release(pick(), uint32(rng.IntN(2000)), time.Duration(rng.IntN(2))*15*time.Second)
				case 7:
					s.Bury(pick(), 5)
				case 8:
					s.Fail(pick(), "err")
				case 9:
					s.Use(tubes[rng.IntN(len(tubes))])
				case 10:
					if rng.IntN(2) == 0 {
						s.Watch(tubes[rng.IntN(len(tubes))])
					} else {
						s.Ignore(tubes[rng.IntN(len(tubes))])
					}
				case 11:
					s.Kick(rng.IntN(3))
				case 12:
					b.KickJob(pick())
				case 13:
					s.ReserveJob(pick())
				case 14:
					clk.Advance(time.Duration(rng.IntN(40)) * time.Second)
				case 15:
					switch rng.IntN(5) {
					case 0:
						b.PauseTube(tubes[rng.IntN(len(tubes))], time.Duration(rng.IntN(30))*time.Second)
					case 1:
						b.Flush(tubes[rng.IntN(len(tubes))], job.State(rng.IntN(5)))
					case 2:
						b.KickBuried(tubes[rng.IntN(len(tubes))], "err", 2)
					case 3:
						sessions[0].Close()
						sessions[0] = open(t, b)
					case 4:
						s.Touch(pick())
					}
				}
				checkInvariants(t, b)
			}
			// What the log holds is what the engine holds.
			b.mu.Lock()
			if len(m.jobs) != b.jobs.len() {
				// reserved jobs are logged in their last logged state
				t.Errorf("log has %d jobs, engine %d", len(m.jobs), b.jobs.len())
			}
			b.jobs.each(func(r *rec) {
				if _, ok := m.jobs[r.ID]; !ok {
					t.Errorf("job %d missing from the log", r.ID)
				}
			})
			b.mu.Unlock()
		})
	}
}

// TestConcurrentSessions runs producers and blocking workers at once on the
// wall clock (for the race detector), then checks that every job was
// delivered exactly once.
func TestConcurrentSessions(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	const producers, workers, perProducer = 4, 4, 300
	var wg sync.WaitGroup
	seen := make(chan job.ID, producers*perProducer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := b.Open()
			defer s.Close()
			s.Watch("a")
			released := map[job.ID]bool{}
			for {
				r, err := s.Reserve(ctx, -1)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("reserve: %v", err)
					}
					return
				}
				if r.ID%3 == 0 && !released[r.ID] {
					released[r.ID] = true
					if err := s.Release(r.ID, 0, 0); err == nil {
						continue // someone takes it again
					}
				}
				if err := s.Delete(r.ID); err != nil {
					t.Errorf("delete %d: %v", r.ID, err)
				}
				seen <- r.ID
			}
		}()
	}
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			s := b.Open()
			defer s.Close()
			if p%2 == 0 {
				s.Use("a")
			}
			for i := 0; i < perProducer; i++ {
				if _, err := s.Put(uint32(i%5), 0, time.Minute, []byte("x")); err != nil {
					t.Errorf("put: %v", err)
				}
			}
		}(p)
	}
	pw.Wait()
	got := map[job.ID]bool{}
	for len(got) < producers*perProducer {
		select {
		case id := <-seen:
			if got[id] {
				t.Fatalf("job %d delivered twice", id)
			}
			got[id] = true
		case <-time.After(20 * time.Second):
			ta, _ := b.StatsTube("a")
			td, _ := b.StatsTube("default")
			t.Fatalf("only %d of %d jobs delivered\n%+v\n%+v\n%+v", len(got), producers*perProducer, b.Stats(), ta, td)
		}
	}
	cancel()
	wg.Wait()
	checkInvariants(t, b)
}

// checkLimits verifies a tube's flow control: never more jobs reserved
// than its concurrency limit, never more tokens than its burst, and a
// unique index that holds only jobs of the tube, under their own keys.
func checkLimits(t *testing.T, b *Broker, tb *tube) {
	t.Helper()
	p := tb.pol
	if p == nil {
		return
	}
	if p.Concurrency > 0 && tb.nReserv > p.Concurrency {
		t.Fatalf("invariant: tube %q has %d jobs reserved, limit %d", tb.name, tb.nReserv, p.Concurrency)
	}
	if p.Rate != nil && tb.limits != nil && tb.limits.tokens > p.Rate.Burst {
		t.Fatalf("invariant: tube %q holds %d tokens, burst %d", tb.name, tb.limits.tokens, p.Rate.Burst)
	}
	if p.Unique == nil || tb.limits == nil {
		return
	}
	for k, r := range tb.limits.uniq {
		if r.State == 0 {
			t.Fatalf("invariant: tube %q indexes dropped job %d", tb.name, r.ID)
		}
		if rk, ok := keyOf(p.Unique, r.Body); !ok || rk != k {
			t.Fatalf("invariant: tube %q indexes job %d under another key", tb.name, r.ID)
		}
		if r.tube != tb && tb.pending == 0 {
			t.Fatalf("invariant: tube %q indexes job %d of tube %q", tb.name, r.ID, r.tube.name)
		}
	}
}
