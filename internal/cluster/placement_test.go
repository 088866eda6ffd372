package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/poll"
)

// TestLeaderLeadsTheStream: a new leader moves the stream's Raft
// leadership to its own NATS server; leadStream moves it to any node that
// asks, and the journal keeps writing across such a move.
func TestLeaderLeadsTheStream(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := next(t, campaign(ctx, nodes))
	leaderOf := func(n *Node) string {
		ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
		defer icancel()
		name, _, err := n.streamLeader(ictx)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return name
	}
	me := nodes[first.i].cfg.Node
	poll.Until(t, "the stream led by the leader's server "+me, func() bool { return leaderOf(nodes[first.i]) == me })

	other := nodes[(first.i+1)%3]
	other.leadStream(ctx, 30*time.Second)
	if got := leaderOf(other); got != other.cfg.Node {
		t.Fatalf("after leadStream on %s the stream is led by %s", other.cfg.Node, got)
	}
	// Asked again where it already leads, nothing changes.
	other.leadStream(ctx, 30*time.Second)
	if got := leaderOf(other); got != other.cfg.Node {
		t.Fatalf("after a second leadStream on %s the stream is led by %s", other.cfg.Node, got)
	}
	write(t, nodes[first.i].Journal(), func(put func(*job.Job), _ func(*job.Job), _ func(job.ID)) {
		for id := job.ID(1); id <= 50; id++ {
			put(testJob(id, job.Ready))
		}
	})
	nodes[first.i].leadStream(ctx, 30*time.Second)
	if got := leaderOf(nodes[first.i]); got != me {
		t.Fatalf("after leadStream on the leader %s the stream is led by %s", me, got)
	}
	write(t, nodes[first.i].Journal(), func(put func(*job.Job), _ func(*job.Job), _ func(job.ID)) {
		for id := job.ID(51); id <= 100; id++ {
			put(testJob(id, job.Ready))
		}
	})
}
