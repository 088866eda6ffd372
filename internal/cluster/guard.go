package cluster

import (
	"errors"
	"net"
	"sync"
)

// ErrLeaseLost is returned by a guarded connection's Write once the
// leader stepped down, or its lease stayed out of date for a whole lease:
// nothing more reaches the client.
var ErrLeaseLost = errors.New("cluster: not leading: reply withheld")

// Guard wraps ln so that every connection it accepts writes to its
// client only while l is Valid, and is closed when l steps down. A leader
// frozen past its lease (a long pause, SIGSTOP) thus cannot hand a
// client a job another leader may have handed out or deleted since.
//
// A write that finds the lease out of date waits for the next renewal
// rather than closing the connection: a JetStream election in a healthy
// cluster can hold renewals back for seconds, and the leader that renews
// at the revision it last wrote has led throughout, so its reply may go
// out. The write fails with ErrLeaseLost, and the connection is closed,
// once the leader steps down or after a lease without a renewal.
func (l *Leader) Guard(ln net.Listener) net.Listener {
	g := &guard{Listener: ln, l: l, conns: map[*guardedConn]struct{}{}}
	if !l.n.add() {
		g.closeAll() // the node is closing: nothing is served
		return g
	}
	go func() {
		defer l.n.wg.Done()
		select {
		case <-l.done:
		case <-l.n.ctx.Done():
		}
		g.closeAll()
	}()
	return g
}

type guard struct {
	net.Listener
	l *Leader

	// mu protects conns and down.
	mu    sync.Mutex
	conns map[*guardedConn]struct{}
	down  bool
}

func (g *guard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardedConn{Conn: c, g: g}
	g.mu.Lock()
	down := g.down
	if !down {
		g.conns[gc] = struct{}{}
	}
	g.mu.Unlock()
	if down {
		c.Close()
	}
	return gc, nil
}

func (g *guard) closeAll() {
	g.mu.Lock()
	g.down = true
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

type guardedConn struct {
	net.Conn
	g *guard
}

func (c *guardedConn) Write(p []byte) (int, error) {
	if !c.g.l.await() {
		c.Conn.Close()
		return 0, ErrLeaseLost
	}
	return c.Conn.Write(p)
}

func (c *guardedConn) Close() error {
	c.g.mu.Lock()
	if c.g.conns != nil {
		delete(c.g.conns, c)
	}
	c.g.mu.Unlock()
	return c.Conn.Close()
}
