package crashtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
)

// job is what the test knows of a job: its body, the state its last
// acknowledged change left it in, and whether a change was in flight at
// the kill (then either outcome is right, and the next check adopts it).
type job struct {
	body   string
	state  string // ready, delayed, buried, deleted
	unsure bool
}

// history is every acknowledged change, shared by the workers.
type history struct {
	mu    sync.Mutex // protects jobs and maxID
	jobs  map[uint64]*job
	maxID uint64
	acks  atomic.Int64
	ops   [4]atomic.Int64 // puts, deletes, buries, releases acknowledged
}

func (h *history) set(id uint64, f func(j *job)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.jobs[id]
	if j == nil {
		j = &job{}
		h.jobs[id] = j
	}
	f(j)
	h.maxID = max(h.maxID, id)
}

func (h *history) ack(op int) { h.acks.Add(1); h.ops[op].Add(1) }

// work drives one connection to addr until it fails (the leader died):
// puts, deletes, buries and releases with a delay.
func work(addr string, w int, h *history, seed uint64) {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	tube := beanstalk.NewTube(c, fmt.Sprintf("w%d", w))
	mine := map[uint64]string{}
	var ids []uint64
	for n := 0; ; n++ {
		if len(ids) == 0 || r.IntN(3) == 0 {
			body := fmt.Sprintf("w%d-%d-%x", w, n, r.Uint64())
			id, err := tube.Put([]byte(body), 100, 0, time.Minute)
			if err != nil {
				return
			}
			h.set(id, func(j *job) { j.body, j.state = body, "ready" })
			h.ack(0)
			mine[id] = "ready"
			ids = append(ids, id)
			continue
		}
		i := r.IntN(len(ids))
		id := ids[i]
		h.set(id, func(j *job) { j.unsure = true })
		switch {
		case r.IntN(3) == 0:
			if err := c.Delete(id); err != nil {
				return
			}
			h.set(id, func(j *job) { j.state, j.unsure = "deleted", false })
			h.ack(1)
			delete(mine, id)
			ids = slices.Delete(ids, i, i+1)
		case mine[id] == "ready":
			if _, err := c.ReserveJob(id); err != nil {
				return
			}
			if r.IntN(2) == 0 {
				if err := c.Bury(id, 50); err != nil {
					return
				}
				h.set(id, func(j *job) { j.state, j.unsure = "buried", false })
				h.ack(2)
				mine[id] = "buried"
			} else {
				if err := c.Release(id, 60, time.Hour); err != nil {
					return
				}
				h.set(id, func(j *job) { j.state, j.unsure = "delayed", false })
				h.ack(3)
				mine[id] = "delayed"
			}
		default:
			h.set(id, func(j *job) { j.unsure = false })
		}
	}
}

// check compares every job of h with what the leader at addr holds.
func check(t *testing.T, addr string, h *history, round int) (checked, unsure int) {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, j := range h.jobs {
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
		if j.unsure {
			unsure++
			if got != "deleted" && string(body) != j.body {
				t.Fatalf("round %d: job %d (change in flight) has body %q, want %q", round, id, body, j.body)
			}
			j.state, j.unsure = got, false
			continue
		}
		checked++
		switch {
		case j.state == "deleted" && got != "deleted":
			t.Fatalf("round %d: job %d was deleted (acknowledged) but is back, %s", round, id, got)
		case j.state != "deleted" && got == "deleted":
			t.Fatalf("round %d: job %d (acknowledged %s) is lost", round, id, j.state)
		case j.state != "deleted" && string(body) != j.body:
			t.Fatalf("round %d: job %d body %q, want %q", round, id, body, j.body)
		case j.state != "deleted" && got != j.state:
			t.Fatalf("round %d: job %d is %s, want %s", round, id, got, j.state)
		}
	}
	for id, j := range h.jobs {
		if j.state == "deleted" {
			delete(h.jobs, id)
		}
	}
	return checked, unsure
}

// probe puts and deletes a job at addr, checking that its id is above
// every acknowledged one; it reports whether the put was answered.
func probe(t *testing.T, addr string, h *history) bool {
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
		t.Fatalf("the new leader gave id %d, not above the highest acknowledged id %d: ids reused", id, maxID)
	}
	if err := c.Delete(id); err != nil {
		t.Fatalf("delete probe: %v", err)
	}
	return true
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func TestClusterCrash(t *testing.T) {
	optIn(t)
	kills := 2
	if s := os.Getenv("REPRIEVE_CLUSTER_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("REPRIEVE_CLUSTER_KILLS=%q: %v", s, err)
		}
		kills = n
	}
	c := newCluster(t, buildServer(t))
	for _, n := range c.nodes {
		c.start(n)
	}
	leader, term := c.leader(0, 90*time.Second)
	h := &history{jobs: map[uint64]*job{}}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const workers = 8
	var failovers []time.Duration
	var checked, unsure int
	for round := 1; round <= kills; round++ {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(leader.addr, w, h, seed+uint64(round))
			}()
		}
		for acks, deadline := h.acks.Load(), time.Now().Add(20*time.Second); h.acks.Load() < acks+workers; {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no acknowledgement from %s in 20 s", round, leader.name)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		killed := time.Now()
		c.kill(leader)
		wg.Wait()
		old := leader
		leader, term = c.leader(term, 60*time.Second)
		for !probe(t, leader.addr, h) {
			if time.Since(killed) > time.Minute {
				t.Fatalf("round %d: %s leads but takes no put a minute after the kill", round, leader.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		failovers = append(failovers, time.Since(killed))
		ch, un := check(t, leader.addr, h, round)
		checked, unsure = checked+ch, unsure+un
		c.start(old) // back as a follower, before the next kill
		for deadline := time.Now().Add(time.Minute); ; {
			if st, err := stats(old.addr); err == nil && st["cluster-leader"] == leader.name {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %s did not come back as a follower in a minute", round, old.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("kills %d; acknowledged puts %d, deletes %d, buries %d, releases with delay %d; checks of acknowledged state %d, lost 0, deletes undone 0, ids reused 0; changes in flight at a kill %d",
		kills, h.ops[0].Load(), h.ops[1].Load(), h.ops[2].Load(), h.ops[3].Load(), checked, unsure)
	t.Logf("failover (SIGKILL of the leader to the first put answered by the next, lease %s): median %v, p99 %v, max %v",
		lease, percentile(failovers, 0.5).Round(time.Millisecond), percentile(failovers, 0.99).Round(time.Millisecond), slices.Max(failovers).Round(time.Millisecond))
}
