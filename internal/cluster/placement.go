package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// leadStream asks JetStream to move the stream's Raft leadership to the
// NATS server this node is connected to (its embedded one), if that
// server holds a replica and does not lead already, and waits until it
// does or until wait has passed. Every publish then enters Raft where it
// is made, rather than crossing a route to another node's server and its
// PubAck crossing back (doc.go, Becoming leader, step 3). It changes no
// data and nothing depends on it: a refused or slow move is logged and
// the leader serves all the same. Call it with nothing of the leader's in
// flight.
func (n *Node) leadStream(ctx context.Context, wait time.Duration) {
	me := n.nc.ConnectedServerName()
	if me == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	leader, peers, err := n.streamLeader(ctx)
	if err != nil || leader == me || !slices.Contains(peers, me) {
		return
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": me}})
	resp, err := n.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+n.names.stream, req)
	var answer struct {
		Success bool `json:"success"`
	}
	if err == nil && (json.Unmarshal(resp.Data, &answer) != nil || !answer.Success) {
		err = fmt.Errorf("stepdown refused: %s", resp.Data)
	}
	if err != nil {
		n.log.Debug("cluster: stream leadership not moved here", "from", leader, "err", err)
		return
	}
	for ctx.Err() == nil {
		if leader, _, err = n.streamLeader(ctx); err == nil && leader == me {
			n.log.Debug("cluster: stream leadership moved here")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.log.Debug("cluster: stream leadership did not move here in time", "leader", leader, "err", err)
}

// streamLeader returns the NATS server that leads the stream's Raft group
// and the servers that hold its replicas (the leader among them).
func (n *Node) streamLeader(ctx context.Context) (string, []string, error) {
	s, err := n.js.Stream(ctx, n.names.stream)
	if err != nil {
		return "", nil, err
	}
	c := s.CachedInfo().Cluster
	if c == nil {
		return "", nil, nil
	}
	peers := []string{c.Leader}
	for _, r := range c.Replicas {
		peers = append(peers, r.Name)
	}
	return c.Leader, peers, nil
}
