package cluster

import (
	"context"
	"time"
)

// keepRaftLeadersAway runs while l leads with an embedded NATS server and
// more than one replica: whenever this node's server leads the Raft group
// of the stream or of the lease bucket, it asks JetStream to hand that
// leadership to another replica. The death of the leading node then
// costs only its lease: the stream and the bucket keep their Raft
// leaders, and a takeover does not wait for JetStream elections (several
// seconds each). It is started by activate and counted in the node's
// wait group.
func (n *Node) keepRaftLeadersAway(l *Leader) {
	defer n.wg.Done()
	if n.ns == nil || n.cfg.Replicas == 1 {
		return
	}
	t := time.NewTicker(2 * n.cfg.Lease)
	defer t.Stop()
	for {
		for _, stream := range []string{n.names.stream, "KV_" + n.names.bucket} {
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Lease)
			st, err := n.js.Stream(ctx, stream)
			if err == nil && st.CachedInfo().Cluster != nil && st.CachedInfo().Cluster.Leader == n.cfg.Node {
				_, err = n.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil)
				n.log.Debug("cluster: moved a Raft leadership off the leading node", "stream", stream, "err", err)
			}
			cancel()
		}
		select {
		case <-l.done:
			return
		case <-t.C:
		}
	}
}
