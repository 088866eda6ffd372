package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
	reprieve "github.com/reprieve/reprieve/server"
)

// clusterNode is one node of a test cluster served in-process.
type clusterNode struct {
	srv  *reprieve.Server
	done chan error // Serve's result
}

// startCluster starts a cluster of three nodes (embedded NATS on
// loopback, three replicas, the default lease; a leader that shuts down
// hands the lease over at once) and returns them once
// one of them leads, with the leader's index.
func startCluster(t *testing.T) ([]*clusterNode, int) {
	t.Helper()
	routes := make([]string, 3)
	for i := range routes {
		a, err := servertest.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = a.String()
	}
	nodes := make([]*clusterNode, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		cfg := reprieve.DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Cluster.Name = "pool"
		cfg.Cluster.Node = fmt.Sprintf("n%d", i+1)
		cfg.Cluster.RouteListen = routes[i]
		for k, r := range routes {
			if k != i {
				cfg.Cluster.Peers = append(cfg.Cluster.Peers, r)
			}
		}
		// JetStream needs a majority of the peers to start: New them at once.
		wg.Go(func() {
			srv, err := reprieve.New(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			n := &clusterNode{srv: srv, done: make(chan error, 1)}
			go func() { n.done <- srv.Serve(context.Background()) }()
			nodes[i] = n
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, n := range nodes {
			if n != nil {
				n.srv.Shutdown(ctx)
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return nodes, leaderOf(t, nodes, -1)
}

// leaderOf waits until a node other than not leads and returns its index.
func leaderOf(t *testing.T, nodes []*clusterNode, not int) int {
	t.Helper()
	ctx := context.Background()
	lead := -1
	poll.Until(t, "a node leads", func() bool {
		for i, n := range nodes {
			if i == not {
				continue
			}
			c, err := Dial(ctx, n.srv.Addr())
			if err != nil {
				continue
			}
			st, err := c.Stats(ctx)
			c.Close()
			if err == nil && st.Text("cluster-leader-addr") == n.srv.Addr() {
				lead = i
				return true
			}
		}
		return false
	})
	return lead
}

// TestPoolFollowsClusterLeader: a Pool given the three nodes of a cluster
// (a follower first) connects to the leader itself, not through a
// follower's proxy. Putters run while the leader is shut down with its
// connections cut; the pool follows the new leader, and every put it
// acknowledged is there exactly once (a put whose answer was lost is
// reported failed and never re-sent, so it is there at most once).
func TestPoolFollowsClusterLeader(t *testing.T) {
	nodes, lead := startCluster(t)
	addrs := []string{nodes[(lead+1)%3].srv.Addr(), nodes[(lead+2)%3].srv.Addr(), nodes[lead].srv.Addr()}
	ctx := context.Background()
	p := newPool(t, PoolConfig{Addrs: addrs, Cluster: true, RedialMax: 200 * time.Millisecond, DialTimeout: 10 * time.Second})
	poll.Until(t, "the pool reaches the cluster", func() bool { return p.Stats().Live == 1 })
	if got := p.Stats().Leader; got != nodes[lead].srv.Addr() {
		t.Fatalf("pool reaches the cluster at %q; want the leader %s", got, nodes[lead].srv.Addr())
	}

	type put struct {
		id   uint64
		body string
	}
	var (
		mu      sync.Mutex
		acked   []put
		failed  []string
		stop    = make(chan struct{})
		putters sync.WaitGroup
	)
	for g := range 4 {
		putters.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("g%d-%d", g, i)
				ref, err := p.Put(ctx, "c", []byte(body), 0, 0, time.Minute)
				mu.Lock()
				if err == nil {
					acked = append(acked, put{ref.ID, body})
				} else {
					failed = append(failed, body)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the pool re-dials the cluster meanwhile
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	poll.Until(t, "40 puts acknowledged", func() bool { return count() >= 40 })
	cut, cancel := context.WithCancel(ctx)
	cancel() // Shutdown with an ended context closes the connections at once
	nodes[lead].srv.Shutdown(cut)
	before := count()
	next := leaderOf(t, nodes, lead)
	poll.Until(t, "40 more puts acknowledged after the leader went", func() bool { return count() >= before+40 })
	close(stop)
	putters.Wait()

	if got := p.Stats().Leader; got != nodes[next].srv.Addr() {
		t.Errorf("pool reaches the cluster at %q; want the new leader %s", got, nodes[next].srv.Addr())
	}
	if st := p.Stats(); st.Resends != 0 {
		t.Errorf("%d puts re-sent; a cluster's pool never re-sends a put", st.Resends)
	}
	c, err := Dial(ctx, nodes[next].srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, a := range acked {
		j, err := c.Peek(ctx, a.id)
		if err != nil || string(j.Body) != a.body {
			t.Fatalf("acknowledged put %q (job %d): peek %q, %v", a.body, a.id, j.Body, err)
		}
	}
	// Every job of the tube, counted by body: each acknowledged body
	// once, each failed one at most once.
	if _, err := c.Watch(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for {
		j, err := c.ReserveWithTimeout(ctx, 0)
		if errors.Is(err, ErrTimedOut) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[string(j.Body)]++
		if err := c.Delete(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range acked {
		if seen[a.body] != 1 {
			t.Errorf("acknowledged put %q is there %d times", a.body, seen[a.body])
		}
	}
	for _, b := range failed {
		if seen[b] > 1 {
			t.Errorf("failed put %q is there %d times", b, seen[b])
		}
	}
	t.Logf("%d puts acknowledged (%d before the leader went), %d failed", len(acked), before, len(failed))
}
