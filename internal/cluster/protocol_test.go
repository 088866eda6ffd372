package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/protocoltest"
)

// protocolLease is the lease of the protocol suite's clusters. The suite
// creates and deletes a stream and a bucket per case, several cases at a
// time, on the one NATS cluster of the package's tests, which runs in the
// test process under -race: on a loaded 2-core machine (load 13) its read
// loops stalled for up to 10s, no renewal was stored within the default
// 4s lease, another node took the lease and the case's connection
// dropped (EOF mid-case). A 15s lease outlives such a stall (a reply
// waits for the renewal, see Leader.Guard); the suite tests no failover,
// and its first leader takes the lease at once whatever its length.
const protocolLease = 15 * time.Second

// startCluster starts a cluster of three nodes with protocolLease on the
// shared NATS cluster, waits until the first one leads and the others
// follow it, and returns the leader and the second node, a follower.
func startCluster(t *testing.T, maxJobSize int) (leader, follower *nodeServer) {
	t.Helper()
	all := startThree(t, maxJobSize, protocolLease)
	return all[0], all[1]
}

// startThree starts a cluster of three nodes with lease on the shared
// NATS cluster and returns them once the first leads and the others
// follow it.
func startThree(t *testing.T, maxJobSize int, lease time.Duration) []*nodeServer {
	t.Helper()
	cfgs := withLease(externalConfigs(t, 3), lease)
	lns := listenAll(t, cfgs)
	nodes := openAll(t, cfgs)
	leader := serveNode(t, nodes[0], lns[0], maxJobSize)
	poll.Until(t, "the first node leads", func() bool { return leader.srv.Load() != nil })
	all := []*nodeServer{leader, serveNode(t, nodes[1], lns[1], maxJobSize), serveNode(t, nodes[2], lns[2], maxJobSize)}
	poll.Until(t, "the followers read the leader's term", func() bool {
		t1, _ := nodes[1].replica.leader()
		t2, _ := nodes[2].replica.leader()
		return t1.Node == nodes[0].cfg.Node && t2.Node == nodes[0].cfg.Node
	})
	return all
}

// clusterStarter runs each protocol case against a fresh three-node
// cluster, through the leader or through the follower's proxy.
func clusterStarter(viaFollower bool) protocoltest.Starter {
	return func(t *testing.T, cfg protocoltest.Config) *protocoltest.Target {
		max := cfg.MaxJobSize
		if max == 0 {
			max = 65535
		}
		leader, follower := startCluster(t, max)
		addr := leader.addr
		if viaFollower {
			addr = follower.addr
		}
		return &protocoltest.Target{
			Addr: addr,
			Drain: func(t *testing.T) {
				leader.srv.Load().SetDraining(true)
				protocoltest.Dial(t, addr).WaitStat("stats", "draining", "true")
			},
		}
	}
}

// protocolWorkers is how many protocol cases run at once. A case spends
// its time waiting (JetStream creating the stream and the bucket, the
// lease, the case's own timeouts), not computing, so more run at once
// than -parallel (the cores) would allow.
const protocolWorkers = 3

// runProtocol runs the whole protocol suite against clusters from start,
// protocolWorkers cases at a time, each a subtest of t.
func runProtocol(t *testing.T, start protocoltest.Starter) {
	sem := make(chan struct{}, protocolWorkers)
	var wg sync.WaitGroup
	for _, c := range protocoltest.Cases() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(c.Name, func(t *testing.T) { c.Run(t, start(t, c.Config)) })
		}()
	}
	wg.Wait()
}

// TestProtocolThroughLeader runs the protocol suite against a cluster's
// leader.
func TestProtocolThroughLeader(t *testing.T) {
	runProtocol(t, clusterStarter(false))
}

// TestProtocolThroughFollower runs the protocol suite through a
// follower, which proxies to the leader.
func TestProtocolThroughFollower(t *testing.T) {
	runProtocol(t, clusterStarter(true))
}
