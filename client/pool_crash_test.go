package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
)

// Seed 004: one of three servers is killed with SIGKILL while producers
// put; every put still succeeds on the others, none waits at the dead one,
// none is lost; the server, restarted, is used again.
func TestPoolSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	bs, addrs := startServers(t, 3)
	clk := clock.NewFake(epoch) // nothing moves it while the server is down: no put can be saved by a timeout
	p := newPool(t, PoolConfig{Addrs: addrs, MaxInFlight: 4, clock: clk})
	ctx := context.Background()

	const producers, each, killAt = 4, 150, 200
	var (
		mu   sync.Mutex // protects refs
		refs = map[string]JobRef{}
		done atomic.Int64
		wg   sync.WaitGroup
	)
	killed := make(chan struct{})
	errs := make(chan error, producers*each)
	for g := range producers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf("p%d-%d", g, i)
				ref, err := p.Put(ctx, "crash", []byte(body), 0, 0, time.Minute)
				if err != nil {
					errs <- fmt.Errorf("put %s: %w", body, err)
					continue
				}
				mu.Lock()
				refs[body] = ref
				mu.Unlock()
				if done.Add(1) == killAt {
					bs[1].Kill()
					close(killed)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatalf("puts stuck: %d of %d done", done.Load(), producers*each)
	}
	poll.Receive(t, "the killer to end", killed)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := p.Stats()
	if st.Live != 2 || st.Servers[1].Live || st.Servers[1].Deaths != 1 {
		t.Fatalf("after the kill: %+v; want %s dead", st, addrs[1])
	}
	afterKill := map[string]int{}
	mu.Lock()
	for _, ref := range refs {
		afterKill[ref.Addr]++
	}
	mu.Unlock()
	t.Logf("puts per server: %v, resends %d", afterKill, st.Resends)

	// Restart it on the same port and log; the next redial finds it.
	bs[1].Restart()
	poll.Until(t, "the redialer waits on the clock", func() bool { return clk.Pending() == 1 })
	up := p.serverUp.wait()
	clk.Advance(time.Second)
	poll.Receive(t, "the server to be up again", up)
	again := map[string]int{}
	for i := range 30 {
		body := fmt.Sprintf("after-%d", i)
		ref, err := p.Put(ctx, "crash", []byte(body), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		refs[body] = ref
		again[ref.Addr]++
	}
	for _, a := range addrs {
		if again[a] != 10 {
			t.Errorf("after the restart %s got %d of 30 puts; want 10 (%v)", a, again[a], again)
		}
	}

	// Every acknowledged put is where its JobRef says, with its body; the
	// only extra copies are puts re-sent after the kill.
	stored := map[JobRef]string{}
	for _, a := range addrs {
		c, err := Dial(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		c.Watch(ctx, "crash")
		for {
			j, err := c.ReserveWithTimeout(ctx, 0)
			if errors.Is(err, ErrTimedOut) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			stored[JobRef{Addr: a, ID: j.ID}] = string(j.Body)
			c.Delete(ctx, j.ID)
		}
		c.Close()
	}
	for body, ref := range refs {
		if got, ok := stored[ref]; !ok || got != body {
			t.Errorf("put %s acknowledged as job %d on %s, which holds %q (present %v)", body, ref.ID, ref.Addr, got, ok)
		}
	}
	extra := len(stored) - len(refs)
	if extra < 0 || uint64(extra) > p.Stats().Resends {
		t.Errorf("%d jobs stored for %d puts with %d resends; want at most one extra per resend", len(stored), len(refs), p.Stats().Resends)
	}
}

// TestPoolSpreadsDeadServersShareEvenly kills one of three servers with
// SIGKILL; once the pool has taken it for dead, puts alternate between the
// two live ones (300 each of 600), rather than the server after the dead
// one taking its share too (400 against 200).
func TestPoolSpreadsDeadServersShareEvenly(t *testing.T) {
	t.Parallel()
	bs, addrs := startServers(t, 3)
	clk := clock.NewFake(epoch) // no redial while it is down
	p := newPool(t, PoolConfig{Addrs: addrs, clock: clk})
	ctx := context.Background()
	bs[1].Kill()
	for i := 0; p.Stats().Servers[1].Live; i++ {
		if i == 1000 {
			t.Fatalf("%d puts after the kill and %s still taken for live", i, addrs[1])
		}
		if _, err := p.Put(ctx, "even", []byte("probe"), 0, 0, time.Minute); err != nil {
			t.Fatalf("put after the kill: %v", err)
		}
	}
	got := map[string]int{}
	for range 600 {
		ref, err := p.Put(ctx, "even", []byte("x"), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got[ref.Addr]++
	}
	if got[addrs[0]] != 300 || got[addrs[2]] != 300 || got[addrs[1]] != 0 {
		t.Fatalf("puts per server with %s dead: %v; want 300 on each live one", addrs[1], got)
	}
}
