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
// does or until wait has passed; a refused request (JetStream refuses a
// replica it does not count as current) is made again meanwhile. Every
// publish then enters Raft where it is made, rather than crossing a
// route to another node's server and its PubAck crossing back (doc.go,
// Becoming leader, step 3). It changes no data and nothing depends on
// it: a move that does not happen in time is logged and the leader
// serves all the same. Call it with nothing of the leader's in flight:
// once the move is made it waits, within wait, until the new stream
// leader has stored everything the stream held before it.
func (n *Node) leadStream(ctx context.Context, wait time.Duration) {
	me := n.nc.ConnectedServerName()
	if me == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": me}})
	var asked time.Time // when a request was last granted
	var last error
	var stored uint64 // the stream's last sequence when first read
	read := false
	for {
		leader, peers, seq, err := n.streamState(ctx)
		if err == nil && !read {
			stored, read = seq, true
		}
		switch {
		case err != nil:
			last = err
		case peers == nil:
			return // a standalone server: nothing to move
		case leader == me && seq >= stored:
			// The new leader has applied everything stored before the
			// move, so no publish of ours meets it still applying the
			// old leader's entries (nats-server v2.15.2 reads its
			// per-subject expectation map unlocked there: a data race
			// the race detector reports).
			n.log.Debug("cluster: stream leadership moved here")
			return
		case leader == me:
			// Moved; still applying.
		case !slices.Contains(peers, me):
			if len(peers) >= n.cfg.Replicas {
				return // another server's replica: not ours to lead
			}
			// A new stream leader may not list every replica yet.
		case leader != "" && time.Since(asked) > stepdownPatience:
			if last = n.askStepdown(ctx, req); last == nil {
				asked = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			n.log.Debug("cluster: stream leadership not moved here in time", "leader", leader, "err", last)
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stepdownPatience is how long leadStream waits for a granted move before
// it asks again.
const stepdownPatience = time.Second

// askStepdown asks the stream's leader to hand its leadership over as
// req says; an error if the request failed or was refused.
func (n *Node) askStepdown(ctx context.Context, req []byte) error {
	resp, err := n.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+n.names.stream, req)
	if err != nil {
		return err
	}
	var answer struct {
		Success bool `json:"success"`
	}
	if json.Unmarshal(resp.Data, &answer) != nil || !answer.Success {
		return fmt.Errorf("cluster: stream leader stepdown refused: %s", resp.Data)
	}
	return nil
}

// streamLeader returns the NATS server that leads the stream's Raft group
// and the servers that hold its replicas (the leader among them); no
// servers for a stream on a standalone (unclustered) server.
func (n *Node) streamLeader(ctx context.Context) (string, []string, error) {
	leader, peers, _, err := n.streamState(ctx)
	return leader, peers, err
}

// streamState is streamLeader with the last sequence the stream's leader
// has stored (and so applied).
func (n *Node) streamState(ctx context.Context) (string, []string, uint64, error) {
	s, err := n.js.Stream(ctx, n.names.stream)
	if err != nil {
		return "", nil, 0, err
	}
	info := s.CachedInfo()
	c := info.Cluster
	if c == nil {
		return "", nil, info.State.LastSeq, nil
	}
	peers := []string{}
	if c.Leader != "" {
		peers = append(peers, c.Leader)
	}
	for _, r := range c.Replicas {
		// Just after a move the new leader may list itself as a replica
		// (and not its predecessor yet): each server once.
		if r.Name != "" && !slices.Contains(peers, r.Name) {
			peers = append(peers, r.Name)
		}
	}
	return c.Leader, peers, info.State.LastSeq, nil
}
