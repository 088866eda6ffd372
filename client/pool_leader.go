package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// clusterAddr names a cluster in a Pool's stats, JobRefs and errors: its
// nodes' addresses, comma-separated.
func clusterAddr(nodes []string) string { return strings.Join(nodes, ",") }

// leaderAddrKey is the stats key in which a Reprieve cluster names the
// address its leader serves clients at (docs/cluster.md, What you see).
const leaderAddrKey = "cluster-leader-addr"

// dialLeader connects to a cluster's leader, for a Pool with Cluster set.
// It tries the address the leader was last reached at, then each node of
// Addrs in order, each within DialTimeout: it asks the node for stats and,
// when the node is a follower (its stats name another leader address, as
// a follower proxies stats to the leader), connects to that address
// instead, falling back to the follower's connection (whose proxy reaches
// the leader in one more hop) when the leader's address cannot be
// dialed. A node with no cluster-leader-addr (a single server) is used as
// it is.
func (p *Pool) dialLeader(ctx context.Context) (*Conn, error) {
	tries := make([]string, 0, len(p.cfg.Addrs)+1)
	if a := p.leader.Load(); a != nil {
		tries = append(tries, *a)
	}
	for _, a := range p.cfg.Addrs {
		if len(tries) == 0 || a != tries[0] {
			tries = append(tries, a)
		}
	}
	var errs []error
	for _, a := range tries {
		c, err := p.dialAsking(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lead := c.leaderAddr
		if lead == "" || lead == a {
			p.leader.Store(&a)
			return c.Conn, nil
		}
		if lc, err := p.dialAsking(ctx, lead); err == nil && (lc.leaderAddr == lead || lc.leaderAddr == "") {
			c.Close()
			p.leader.Store(&lead)
			return lc.Conn, nil
		} else if err == nil {
			lc.Close() // the leader changed again meanwhile: keep the proxy
		}
		p.leader.Store(&a)
		return c.Conn, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	return nil, fmt.Errorf("client: no node of cluster %s reachable: %w", clusterAddr(p.cfg.Addrs), errors.Join(errs...))
}

// askedConn is a connection and the leader address its server named.
type askedConn struct {
	*Conn
	leaderAddr string
}

// dialAsking connects to addr and asks it for stats, within DialTimeout.
func (p *Pool) dialAsking(ctx context.Context, addr string) (askedConn, error) {
	dctx, done := p.withTimeout(ctx, p.cfg.DialTimeout, errDialTimeout)
	defer done()
	c, err := p.cfg.Dial(dctx, addr)
	if err != nil {
		return askedConn{}, err
	}
	st, err := c.Stats(dctx)
	if err != nil {
		c.Close()
		return askedConn{}, err
	}
	return askedConn{Conn: c, leaderAddr: st.Text(leaderAddrKey)}, nil
}
