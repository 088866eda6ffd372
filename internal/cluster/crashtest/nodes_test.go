// Package crashtest runs real `reprieve serve` processes as a 3-node
// cluster on loopback (each node embedding its nats-server), kills and
// freezes the leader, and checks every acknowledged change against the
// node that takes over. The tests are opt-in, because a JetStream Raft
// election during a takeover can stall the cluster for longer than they
// wait (docs/cluster.md, Known limits): REPRIEVE_CLUSTER_PROCESS=1 runs
// them; REPRIEVE_CLUSTER_KILLS sets the number of leader kills of
// TestClusterCrash (default 2).
package crashtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
)

const lease = "1s"

// optIn skips t unless REPRIEVE_CLUSTER_PROCESS or REPRIEVE_CLUSTER_KILLS
// is set.
func optIn(t *testing.T) {
	t.Helper()
	if testing.Short() || (os.Getenv("REPRIEVE_CLUSTER_PROCESS") == "" && os.Getenv("REPRIEVE_CLUSTER_KILLS") == "") {
		t.Skip("set REPRIEVE_CLUSTER_PROCESS=1 to run the cluster's process tests (docs/cluster.md)")
	}
}

func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reprieve")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/reprieve/reprieve/cmd/reprieve")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build reprieve: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is one member of the test cluster; it keeps its addresses and data
// directory across restarts.
type node struct {
	name, addr, route, dir string
	peers                  []string
	cmd                    *exec.Cmd
	exited                 chan error
	logs                   []string // stderr files, one per start
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
		c.nodes = append(c.nodes, &node{name: fmt.Sprintf("n%d", i+1), addr: freePort(t), route: freePort(t),
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
		for _, n := range c.nodes {
			if n.cmd != nil {
				n.cmd.Process.Signal(syscall.SIGCONT)
				n.cmd.Process.Kill()
				<-n.exited
			}
		}
		if t.Failed() {
			for _, n := range c.nodes {
				for _, f := range n.logs {
					b, _ := os.ReadFile(f)
					t.Logf("%s: %s", f, tail(string(b), 30))
				}
			}
		}
	})
	return c
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// start starts n; it returns at once (JetStream waits for its peers).
func (c *cluster) start(n *node) {
	c.t.Helper()
	f, err := os.CreateTemp(c.t.TempDir(), n.name+"-*.log")
	if err != nil {
		c.t.Fatal(err)
	}
	n.logs = append(n.logs, f.Name())
	n.cmd = exec.Command(c.bin, "serve", "--listen", n.addr, "--data", n.dir, "--log-level", "info",
		"--cluster-name", c.name, "--cluster-node", n.name, "--cluster-listen", n.route,
		"--cluster-peers", strings.Join(n.peers, ","), "--cluster-lease", lease, "--cluster-start-timeout", "60s")
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(n.cmd, n.exited)
}

// kill SIGKILLs n and waits for it to exit.
func (c *cluster) kill(n *node) {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.cmd = nil
}

// leader asks every live node's job port (a follower proxies to the
// leader) which node leads and in which term, until one answers with a
// term above after or d passes.
func (c *cluster) leader(after int, d time.Duration) (*node, int) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.cmd == nil {
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
				if l.name == st["cluster-leader"] && l.cmd != nil {
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
