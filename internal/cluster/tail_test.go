package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/poll"
)

// TestFollowerTailsItsOwnServer: each follower's tail consumer is held by
// its own NATS server, as JetStream's consumer info says; when the
// consumer is deleted under it, the follower resumes with a new one,
// again on its own server, after the last message it applied: it reads
// the rest without starting over and holds exactly the leader's jobs.
func TestFollowerTailsItsOwnServer(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := next(t, campaign(ctx, nodes))
	var followers []*Node
	for i, n := range nodes {
		if i != w.i {
			followers = append(followers, n)
		}
	}
	// held returns the server JetStream says holds r's tail consumer.
	held := func(n *Node, name string) string {
		ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
		defer icancel()
		c, err := nodes[w.i].js.Consumer(ictx, n.names.stream, name)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		info, err := c.Info(ictx)
		if err != nil || info.Cluster == nil {
			return "(no cluster info)"
		}
		return info.Cluster.Leader
	}
	tailOf := func(n *Node) (string, int, uint64) {
		r := n.replica
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.tail1, r.tails, r.applied
	}
	lastSeq := func() uint64 {
		st, err := nodes[w.i].js.Stream(ctx, nodes[w.i].names.stream)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.LastSeq
	}
	write(t, nodes[w.i].Journal(), func(put func(*job.Job), _ func(*job.Job), _ func(job.ID)) {
		for id := job.ID(1); id <= 20; id++ {
			put(testJob(id, job.Ready))
		}
	})
	first := lastSeq()
	before := make([]int, len(followers))
	for i, f := range followers {
		poll.Until(t, f.cfg.Node+" tails the stream up to the puts", func() bool {
			name, _, applied := tailOf(f)
			return name != "" && applied >= first
		})
		name, tails, _ := tailOf(f)
		if got := held(f, name); got != f.cfg.Node {
			t.Fatalf("follower %s tails through consumer %s held by %s", f.cfg.Node, name, got)
		}
		before[i] = tails
		// Deleted under the follower, the consumer is replaced.
		if err := nodes[w.i].js.DeleteConsumer(ctx, f.names.stream, name); err != nil {
			t.Fatalf("delete %s's consumer: %v", f.cfg.Node, err)
		}
	}
	write(t, nodes[w.i].Journal(), func(put func(*job.Job), _ func(*job.Job), del func(job.ID)) {
		for id := job.ID(21); id <= 40; id++ {
			put(testJob(id, job.Ready))
		}
		for id := job.ID(1); id <= 10; id++ {
			del(id)
		}
	})
	last := lastSeq()
	for i, f := range followers {
		poll.Until(t, f.cfg.Node+" resumes its tail and reads up to the deletes", func() bool {
			_, tails, applied := tailOf(f)
			return tails > before[i] && applied >= last
		})
		name, _, _ := tailOf(f)
		if got := held(f, name); got != f.cfg.Node {
			t.Fatalf("follower %s resumed through consumer %s held by %s", f.cfg.Node, name, got)
		}
		r := f.replica
		r.mu.Lock()
		n, resyncs := len(r.jobs), r.resyncs
		_, gone1 := r.jobs[1]
		has11, has40 := r.jobs[11] != nil, r.jobs[40] != nil
		r.mu.Unlock()
		if n != 30 || gone1 || !has11 || !has40 || resyncs != 0 {
			t.Fatalf("follower %s holds %d jobs (want 30: 11 to 40; job 1 %v, 11 %v, 40 %v), %d resyncs", f.cfg.Node, n, gone1, has11, has40, resyncs)
		}
	}
}
