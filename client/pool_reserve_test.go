package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/poll"
)

// waiting returns how many Reserve calls wait on tubes key.
func (p *Pool) waiting(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.takers[key])
}

// statsOn reads an integer key of stats over c.
func statsOn(t *testing.T, c *Conn, key string) int64 {
	t.Helper()
	s, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Int(key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPoolReserveKeepsConnections(t *testing.T) { eachKind(t, 3, testPoolReserveKeepsConnections) }

// A worker that reserves and deletes again and again across three servers
// opens no connection after the first round, whether the job is ready when
// it asks or comes while it waits on every server; each job arrives once,
// from the server it was put on.
func testPoolReserveKeepsConnections(t *testing.T, addrs []string) {
	ctx := context.Background()
	p := newPool(t, PoolConfig{Addrs: addrs})
	direct := make([]*Conn, len(addrs))
	for i, a := range addrs {
		c, err := Dial(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Use(ctx, "keep"); err != nil {
			t.Fatal(err)
		}
		direct[i] = c
	}
	type result struct {
		h   *Handle
		err error
	}
	round := func(i int, waitFirst bool) {
		t.Helper()
		at := i % len(addrs)
		body := fmt.Sprintf("job-%d", i)
		got := make(chan result, 1)
		reserve := func() {
			h, err := p.Reserve(ctx, 30*time.Second, "keep")
			got <- result{h, err}
		}
		if waitFirst {
			go reserve()
			poll.Until(t, "the reserve waits", func() bool { return p.waiting("keep") == 1 })
		}
		if _, err := direct[at].Put(ctx, []byte(body), 0, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		if !waitFirst {
			reserve()
		}
		r := poll.Receive(t, "the reserve to end", got)
		if r.err != nil || r.h.Addr != addrs[at] || string(r.h.Body) != body {
			t.Fatalf("round %d: Reserve = %+v, %v; want %q from %s", i, r.h, r.err, body, addrs[at])
		}
		if err := r.h.Delete(ctx); err != nil {
			t.Fatalf("round %d: Delete: %v", i, err)
		}
	}
	// The first round dials a reserving connection to each server.
	if _, err := p.Reserve(ctx, 0, "keep"); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve of an empty tube = %v; want ErrTimedOut", err)
	}
	round(0, true)
	before := make([]int64, len(addrs))
	for i, c := range direct {
		before[i] = statsOn(t, c, "total-connections")
	}
	const rounds = 30
	for i := 1; i <= rounds; i++ {
		round(i, i%2 == 0)
	}
	for i, c := range direct {
		if after := statsOn(t, c, "total-connections"); after != before[i] {
			t.Errorf("%s: total-connections %d after %d reserves; want %d as before them (no new connection)", addrs[i], after, rounds, before[i])
		}
		want := int64(rounds / len(addrs)) // rounds 1..30, and round 0 on the first server
		if i == 0 {
			want++
		}
		if n := statsOn(t, c, "total-jobs"); n != want {
			t.Errorf("%s: total-jobs %d; want %d", addrs[i], n, want)
		}
		if n := statsOn(t, c, "cmd-delete"); n != want {
			t.Errorf("%s: cmd-delete %d; want %d (each job deleted once)", addrs[i], n, want)
		}
	}
	if st := p.Stats(); st.Live != 3 || st.Spares != 0 {
		t.Errorf("stats = %+v; want 3 live servers and no spare job", st)
	}
}

func TestPoolReserveExactlyOnce(t *testing.T) { eachKind(t, 3, testPoolReserveExactlyOnce) }

// Four workers share a Pool over three servers while three producers put:
// every job is received exactly once and deleted, none is left reserved
// or ready, whatever the waits and spares did.
func testPoolReserveExactlyOnce(t *testing.T, addrs []string) {
	const each, workers = 100, 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPool(t, PoolConfig{Addrs: addrs})

	var mu sync.Mutex // protects seen
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers+len(addrs))
	for range workers {
		wg.Go(func() {
			for {
				h, err := p.Reserve(ctx, time.Minute, "once")
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if err := h.Delete(context.Background()); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[h.Addr+" "+string(h.Body)]++
				if len(seen) == each*len(addrs) {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for i, a := range addrs {
		wg.Go(func() {
			c, err := Dial(context.Background(), a)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range each {
				if _, err := c.PutIn(context.Background(), "once", fmt.Appendf(nil, "%d-%d", i, j), 0, 0, time.Minute); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		cancel()
		poll.Receive(t, "the reservers to finish", finished)
		t.Fatalf("workers stuck after %d of %d jobs", n, each*len(addrs))
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, a := range addrs {
		for j := range each {
			if n := seen[fmt.Sprintf("%s %d-%d", a, i, j)]; n != 1 {
				t.Errorf("job %d-%d from %s received %d times; want once", i, j, a, n)
			}
		}
	}
	if len(seen) != each*len(addrs) {
		t.Errorf("%d distinct jobs received; want %d", len(seen), each*len(addrs))
	}
	p.Close() // a spare left after the last Reserve goes back to ready
	for _, a := range addrs {
		c, err := Dial(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		poll.Until(t, "the pool's connections are gone from "+a, func() bool { return statsOn(t, c, "current-jobs-reserved") == 0 })
		if n := statsOn(t, c, "current-jobs-ready"); n != 0 {
			t.Errorf("%s: %d jobs ready after all were deleted", a, n)
		}
		if n := statsOn(t, c, "cmd-delete"); n != each {
			t.Errorf("%s: cmd-delete %d; want %d", a, n, each)
		}
	}
}
