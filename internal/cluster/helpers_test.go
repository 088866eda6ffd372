package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// freePorts returns n loopback ports that were free a moment ago,
// chosen at random below the kernel's ephemeral range as
// servertest.FreeAddr does (which this package cannot import: servertest
// imports the server, which imports this package), so that no client
// socket of another test takes one before it is listened on.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			t.Fatal("no free port between 20000 and 32000")
		}
		port := 20000 + rand.IntN(12000)
		if slices.Contains(ports, port) {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		ports = append(ports, port)
	}
	return ports
}

// testConfigs returns the configurations of an embedded cluster of n
// nodes on loopback, each with its own directory under t.TempDir().
func testConfigs(t testing.TB, n int) []Config {
	t.Helper()
	routes := freePorts(t, n)
	clients := freePorts(t, n)
	name := fmt.Sprintf("t%d", time.Now().UnixNano()%1e6)
	var cfgs []Config
	for i := range n {
		c := DefaultConfig()
		c.Name = name
		c.Node = fmt.Sprintf("n%d", i+1)
		c.Advertise = fmt.Sprintf("127.0.0.1:%d", clients[i])
		c.Listen = fmt.Sprintf("127.0.0.1:%d", routes[i])
		for k := range n {
			if k != i {
				c.Peers = append(c.Peers, fmt.Sprintf("127.0.0.1:%d", routes[k]))
			}
		}
		c.Replicas = min(3, n)
		c.Lease = time.Second
		c.TombstoneTTL = time.Minute
		c.StoreDir = t.TempDir()
		c.Logger = testLogger()
		cfgs = append(cfgs, c)
	}
	return cfgs
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// openAll opens every node at once (JetStream needs a majority to start)
// and closes them when the test ends.
func openAll(t testing.TB, cfgs []Config) []*Node {
	t.Helper()
	nodes := make([]*Node, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = Open(c)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, n := range nodes {
				if n != nil {
					n.Close()
				}
			}
			t.Fatalf("open node %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
		if url := cfgs[0].NATSURL; url != "" {
			removeCluster(t, url, cfgs[0].Name)
		}
	})
	return nodes
}

// removeCluster deletes a cluster's stream and lease bucket from a
// shared NATS, so that the Raft groups of finished tests do not load
// the ones still running.
func removeCluster(t testing.TB, url, name string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("remove cluster %s: %v", name, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("remove cluster %s: %v", name, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nm := namesFor(name)
	if err := js.DeleteStream(ctx, nm.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Logf("remove cluster %s: stream: %v", name, err)
	}
	if err := js.DeleteKeyValue(ctx, nm.bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Logf("remove cluster %s: bucket: %v", name, err)
	}
}

// won is a node that became leader.
type won struct {
	i int
	l *Leader
}

// campaign runs Lead on every node until ctx ends; each node that
// becomes leader is sent on the channel.
func campaign(ctx context.Context, nodes []*Node) <-chan won {
	ch := make(chan won, len(nodes))
	for i, n := range nodes {
		go func() {
			if l, err := n.Lead(ctx); err == nil {
				ch <- won{i, l}
			}
		}()
	}
	return ch
}

// next waits for the next leader of a campaign.
func next(t testing.TB, ch <-chan won) won {
	t.Helper()
	select {
	case w := <-ch:
		return w
	case <-time.After(30 * time.Second):
		t.Fatal("no node became leader within 30s")
		return won{}
	}
}

// crash stops n as a kill would: no lease or presence key is deleted,
// the embedded server stops without a goodbye.
func crash(n *Node) {
	n.mu.Lock()
	n.closing = true
	l := n.leader
	n.mu.Unlock()
	if l != nil {
		l.stepDown(ErrClosed)
	}
	n.cancel()
	n.nc.Close()
	n.wg.Wait()
	n.ns.Shutdown()
	n.ns.WaitForShutdown()
}
