package cluster

import (
	"context"
	"strconv"
	"time"
)

// Stats is what a node reports of its cluster (docs/cluster.md, What
// you see): a leader (Leader.Stats) or a follower (Node.FollowerStats).
type Stats struct {
	// Role is "leader" or "follower".
	Role               string
	Name, Node, Leader string
	// LeaderAddr is the address the leader serves clients at (its
	// Advertise); clients that follow the leader connect there.
	LeaderAddr string
	Term       uint64
	// Replicas is the stream's replica count; ReplicasCurrent how many of
	// them are caught up (the stream's Raft leader included); Lag the
	// most operations any replica is behind.
	Replicas, ReplicasCurrent int
	Lag                       uint64
	// StreamBytes and StreamMessages are the stream's size.
	StreamBytes, StreamMessages uint64
	// Published counts the changes the leader queued for the stream and
	// Acknowledged those whose client was answered once JetStream stored
	// them.
	Published, Acknowledged uint64
	// The publisher's work (doc.go, Publishing): Batches stored and the
	// BatchMessages in them; Sends of a batch, first sends and resends;
	// Resent messages sent again; Resolutions, the times it read the
	// stream to learn a batch's outcome; Window, the batches in flight
	// now; WindowOccupancy the sum over sends of the batches in flight
	// counting the one sent (WindowOccupancy/Sends is the mean window).
	Batches, BatchMessages, Sends, Resent, Resolutions, Window, WindowOccupancy uint64
}

// Stats reads the stream's state (waiting at most a second for it; the
// replica figures are zero when it does not come) and the leader's
// counters.
func (l *Leader) Stats() Stats {
	n := l.n
	st := Stats{
		Role: "leader", Name: n.cfg.Name, Node: n.cfg.Node, Leader: l.term.Node, LeaderAddr: l.term.Addr, Term: l.term.Term,
		Replicas:        n.cfg.Replicas,
		Published:       n.journal.published.Load(),
		Acknowledged:    n.journal.acked.Load(),
		Batches:         n.journal.batches.Load(),
		BatchMessages:   n.journal.batched.Load(),
		Sends:           n.journal.sends.Load(),
		Resent:          n.journal.resent.Load(),
		Resolutions:     n.journal.resolutions.Load(),
		Window:          n.journal.window.Load(),
		WindowOccupancy: n.journal.occupancy.Load(),
	}
	n.streamStats(&st)
	return st
}

// FollowerStats is what a node that does not lead reports: the leader
// and term of the latest term message its replica read (empty and 0
// before the first) and the stream's state, as Leader.Stats reads it;
// the publisher's counters are zero. Clients of a follower are proxied
// to the leader and see the leader's stats; the node's own admin API,
// dashboard and /metrics show these.
func (n *Node) FollowerStats() Stats {
	t, _ := n.replica.leader()
	st := Stats{Role: "follower", Name: n.cfg.Name, Node: n.cfg.Node, Leader: t.Node, LeaderAddr: t.Addr, Term: t.Term, Replicas: n.cfg.Replicas}
	n.streamStats(&st)
	return st
}

// streamStats fills in the stream's size and its replicas' state,
// waiting at most a second for them.
func (n *Node) streamStats(st *Stats) {
	ctx, cancel := context.WithTimeout(n.ctx, time.Second)
	defer cancel()
	s, err := n.js.Stream(ctx, n.names.stream)
	if err != nil {
		return
	}
	info := s.CachedInfo()
	st.StreamBytes, st.StreamMessages = info.State.Bytes, info.State.Msgs
	if info.Cluster == nil {
		st.ReplicasCurrent = 1
		return
	}
	if info.Cluster.Leader != "" {
		st.ReplicasCurrent = 1
	}
	for _, p := range info.Cluster.Replicas {
		if p.Current && !p.Offline {
			st.ReplicasCurrent++
		}
		st.Lag = max(st.Lag, p.Lag)
	}
}

// StatsKeys returns the stats keys of s, in the order the stats reply
// lists them.
func (s Stats) StatsKeys() [][2]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return [][2]string{
		{"cluster-role", s.Role},
		{"cluster-name", s.Name},
		{"cluster-node", s.Node},
		{"cluster-leader", s.Leader},
		{"cluster-leader-addr", s.LeaderAddr},
		{"cluster-term", u(s.Term)},
		{"cluster-replicas", strconv.Itoa(s.Replicas)},
		{"cluster-replicas-current", strconv.Itoa(s.ReplicasCurrent)},
		{"cluster-replication-lag", u(s.Lag)},
		{"cluster-stream-bytes", u(s.StreamBytes)},
		{"cluster-stream-messages", u(s.StreamMessages)},
		{"cluster-published", u(s.Published)},
		{"cluster-acknowledged", u(s.Acknowledged)},
		{"cluster-batches", u(s.Batches)},
		{"cluster-batch-messages", u(s.BatchMessages)},
		{"cluster-sends", u(s.Sends)},
		{"cluster-resent", u(s.Resent)},
		{"cluster-resolutions", u(s.Resolutions)},
		{"cluster-window", u(s.Window)},
		{"cluster-window-occupancy", u(s.WindowOccupancy)},
	}
}
