// Package crashtest runs real `reprieve serve` processes as a 3-node
// cluster on loopback (each node embedding its nats-server), kills and
// freezes the leader, and checks every acknowledged change against the
// node that takes over (with internal/crashcheck, as the single-node
// log's crash test does). TestClusterCrash runs 2 kills and
// TestFrozenLeaderStepsDown in the default run (not with -short);
// REPRIEVE_CLUSTER_KILLS=N sets the number of kills.
package crashtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/crashcheck"
	"github.com/reprieve/reprieve/internal/servertest"
)

const lease = "1s"

// optIn skips t with -short: the process tests take tens of seconds.
func optIn(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the cluster's process tests run three real servers (docs/cluster.md)")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := servertest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// node is one member of the test cluster; it keeps its addresses and data
// directory across restarts.
type node struct {
	name, addr, route, dir string
	peers                  []string
	proc                   *crashcheck.Process // nil while it is down
	logs                   []*crashcheck.Process
}

// cluster is three nodes started by one binary.
type cluster struct {
	t     *testing.T
	bin   string
	name  string
	nodes []*node
}

func newCluster(t *testing.T, bin string) *cluster {
	c := &cluster{t: t, bin: bin, name: fmt.Sprintf("c%d", time.Now().UnixNano()%1e6)}
	for i := range 3 {
		c.nodes = append(c.nodes, &node{name: fmt.Sprintf("n%d", i+1), addr: freeAddr(t), route: freeAddr(t),
			dir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1))})
	}
	for _, n := range c.nodes {
		for _, p := range c.nodes {
			if p != n {
				n.peers = append(n.peers, p.route)
			}
		}
	}
	t.Cleanup(func() {
		if dir := os.Getenv("REPRIEVE_CLUSTER_LOGS"); dir != "" {
			keepLogs(t, dir, c.nodes)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				for _, p := range n.logs {
					t.Logf("%s: %s", p.Log, p.Tail(30))
				}
			}
		}
	})
	return c
}

// keepLogs copies every node's logs, at debug level with
// REPRIEVE_CLUSTER_LOGS set, into that directory, for a timeline of the
// kills (docs/cluster.md, Failover time).
func keepLogs(t *testing.T, dir string, nodes []*node) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("REPRIEVE_CLUSTER_LOGS: %v", err)
		return
	}
	for _, n := range nodes {
		for i, p := range n.logs {
			b, err := os.ReadFile(p.Log)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", n.name, i+1)), b, 0o644)
			}
			if err != nil {
				t.Errorf("REPRIEVE_CLUSTER_LOGS: %v", err)
			}
		}
	}
}

// start starts n; it returns at once (JetStream waits for its peers).
func (c *cluster) start(n *node) {
	c.t.Helper()
	level := "info"
	if os.Getenv("REPRIEVE_CLUSTER_LOGS") != "" {
		level = "debug" // JetStream's elections, for the timeline
	}
	n.proc = crashcheck.Start(c.t, c.bin, n.name, "serve", "--listen", n.addr, "--data", n.dir, "--log-level", level,
		"--cluster-name", c.name, "--cluster-node", n.name, "--cluster-listen", n.route,
		"--cluster-peers", strings.Join(n.peers, ","), "--cluster-lease", lease, "--cluster-start-timeout", "60s")
	n.logs = append(n.logs, n.proc)
}

// kill SIGKILLs n and waits for it to exit.
func (c *cluster) kill(n *node) {
	n.proc.Kill()
	n.proc = nil
}

func (n *node) signal(sig syscall.Signal) error { return n.proc.Cmd.Process.Signal(sig) }

// leader asks every live node's job port (a follower proxies to the
// leader) which node leads and in which term, until one answers with a
// term above after or d passes.
func (c *cluster) leader(after int, d time.Duration) (*node, int) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.proc == nil {
				continue
			}
			st, err := stats(n.addr)
			if err != nil {
				continue
			}
			var term int
			fmt.Sscan(st["cluster-term"], &term)
			if term <= after {
				continue
			}
			for _, l := range c.nodes {
				if l.name == st["cluster-leader"] && l.proc != nil {
					return l, term
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no node leads in a term above %d after %v", after, d)
	return nil, 0
}

func stats(addr string) (map[string]string, error) {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(time.Second))
	c := beanstalk.NewConn(conn)
	defer c.Close()
	return c.Stats()
}
