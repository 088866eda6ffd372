package admin_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/server"
)

// TestBrowserClusterPanelLive opens the dashboard of a live three-node
// cluster's leader (three servers in this process, each embedding its
// NATS server) once the stream is current on all three, and checks that
// the cluster panel shows exactly what the same node's stats answer:
// cluster, node, role, leader, term, replicas current, replicas and lag;
// then a follower's dashboard, which shows the follower's own view.
func TestBrowserClusterPanelLive(t *testing.T) {
	findBrowser(t) // skips (or, under CI, fails) without Chromium before the cluster starts
	srvs := startCluster(t)
	leader := leading(t, srvs)
	ctx := context.Background()
	c, err := client.Dial(ctx, leader.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, []byte("hello"), 1, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	var st map[string]string
	poll.Until(t, "the stream current on all three nodes", func() bool {
		st, err = c.Stats(ctx)
		return err == nil && st["cluster-replicas-current"] == "3" && st["cluster-replication-lag"] == "0"
	})
	if st["cluster-role"] != "leader" || st["cluster-term"] != "1" || st["cluster-leader"] != st["cluster-node"] {
		t.Fatalf("stats of the leader: role %q, term %q, leader %q, node %q", st["cluster-role"], st["cluster-term"], st["cluster-leader"], st["cluster-node"])
	}
	p := openPage(t, &env{url: leader.AdminURL()})
	// cluster node role leader term replicas-current replicas lag
	p.waitRows("the cluster panel of the leader", "#cluster", [][]string{{
		st["cluster-name"], st["cluster-node"], st["cluster-role"], st["cluster-leader"], st["cluster-term"],
		st["cluster-replicas-current"], st["cluster-replicas"], st["cluster-replication-lag"],
	}})
	if got := eval[string](p, `Array.from(document.querySelectorAll("#cluster td.warn"), (c) => c.textContent).join()`); got != "" {
		t.Errorf("cells marked warn with every replica current and no lag: %q", got)
	}
	p.checkNetwork("/api/v1/stats")

	// A follower's own dashboard shows the node as a follower of the same
	// leader and term (its clients are proxied and see the leader's stats).
	for i, f := range srvs {
		if f == leader {
			continue
		}
		fp := openPage(t, &env{url: f.AdminURL()})
		fp.waitRows("the cluster panel of follower n"+string(rune('1'+i)), "#cluster", [][]string{{
			st["cluster-name"], "n" + string(rune('1'+i)), "follower", st["cluster-leader"], st["cluster-term"],
			"3", "3", "0",
		}})
		break
	}
}

// startCluster starts three servers that form a cluster named "live" on
// loopback, each with its admin interface, and shuts them down when the
// test ends. Their New calls run at once: JetStream needs a majority.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	routes := make([]string, 3)
	for i := range routes {
		a, err := servertest.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = a.String()
	}
	srvs := make([]*server.Server, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range srvs {
		cfg := server.DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Admin.Listen = "127.0.0.1:0"
		cfg.Cluster.Name = "live"
		cfg.Cluster.Node = "n" + string(rune('1'+i))
		cfg.Cluster.RouteListen = routes[i]
		for k, r := range routes {
			if k != i {
				cfg.Cluster.Peers = append(cfg.Cluster.Peers, r)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = server.New(cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node n%d: %v", i+1, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, s := range srvs {
		served := make(chan struct{})
		go func() {
			defer close(served)
			s.Serve(ctx)
		}()
		t.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
			defer scancel()
			s.Shutdown(sctx)
			<-served
		})
	}
	return srvs
}

// leading returns the server of srvs that leads once one does.
func leading(t *testing.T, srvs []*server.Server) *server.Server {
	t.Helper()
	var l *server.Server
	poll.Until(t, "a node leads", func() bool {
		for _, s := range srvs {
			select {
			case <-s.Leading():
				l = s
				return true
			default:
			}
		}
		return false
	})
	if !strings.HasPrefix(l.AdminURL(), "http://127.0.0.1:") {
		t.Fatalf("admin URL %q", l.AdminURL())
	}
	return l
}
