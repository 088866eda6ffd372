package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy serves a follower's clients: each connection it accepts is piped,
// bytes both ways, to the leader's advertised address, and closed when
// another leader takes over (the client reconnects). Start it with
// Node.Proxy; Close stops it.
type Proxy struct {
	n  *Node
	ln net.Listener

	// mu protects conns and closed.
	mu     sync.Mutex
	conns  map[net.Conn]uint64   // client connection → the term it is proxied to
	ups    map[net.Conn]net.Conn // client connection → its connection to the leader
	closed bool
	// wg counts the accept loop, the term watcher and two pipes per
	// connection; Close waits for them.
	wg   sync.WaitGroup
	done chan struct{}
}

// Proxy starts proxying the connections ln accepts to the current leader
// until Close. A connection that arrives while no other node leads waits
// up to two leases for one, then is closed.
func (n *Node) Proxy(ln net.Listener) *Proxy {
	p := &Proxy{n: n, ln: ln, conns: map[net.Conn]uint64{}, ups: map[net.Conn]net.Conn{}, done: make(chan struct{})}
	p.wg.Add(2)
	go p.accept()
	go p.watch()
	return p
}

// Close stops accepting, closes every proxied connection and waits for
// the proxy's goroutines. The listener is closed.
func (p *Proxy) Close() error {
	p.stop()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Release stops the proxy like Close but leaves the listener open for
// the caller (a node that now leads serves it itself): connections that
// wait in its queue are accepted by the next Accept. A listener without
// SetDeadline is closed instead.
func (p *Proxy) Release() error {
	p.stop()
	dl, ok := p.ln.(interface{ SetDeadline(time.Time) error })
	if !ok {
		err := p.ln.Close()
		p.wg.Wait()
		return err
	}
	if err := dl.SetDeadline(time.Unix(1, 0)); err != nil {
		return err
	}
	p.wg.Wait()
	return dl.SetDeadline(time.Time{})
}

// stop marks the proxy closed and closes its connections.
func (p *Proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.done)
	for c := range p.conns {
		c.Close()
	}
	for _, up := range p.ups {
		up.Close() // a frozen leader would never end the copy from it
	}
}

// AwaitLeadership proxies ln's connections to the leader (Proxy) until
// this node leads (Lead), then stops proxying and returns the Leader with
// ln still open, for the caller to serve through Leader.Guard. Errors
// are Lead's.
func (n *Node) AwaitLeadership(ctx context.Context, ln net.Listener) (*Leader, error) {
	p := n.Proxy(ln)
	l, err := n.Lead(ctx)
	if rerr := p.Release(); err == nil && rerr != nil {
		l.stepDown(fmt.Errorf("%w: release the proxy's listener: %w", ErrClosed, rerr))
		return nil, rerr
	}
	return l, err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !p.isClosed() {
				continue
			}
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[c] = 0
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// leader waits for a leader other than this node, up to two leases of
// the node's clock: it looks again at each term the replica reads.
func (p *Proxy) leader() (term, bool) {
	giveUp, stop := p.n.after(2 * p.n.cfg.Lease)
	defer stop()
	for {
		changed := p.n.replica.termChanged()
		t, _ := p.n.replica.leader()
		if t.Term > 0 && t.Node != p.n.cfg.Node {
			return t, true
		}
		select {
		case <-p.done:
			return term{}, false
		case <-giveUp:
			return term{}, false
		case <-changed:
		}
	}
}

// redialPause is the pause, on the node's clock, before a proxied
// connection dials the leader again: a new leader may not listen yet.
const redialPause = 50 * time.Millisecond

// serve pipes one client connection to the leader.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	var up net.Conn
	for up == nil {
		t, ok := p.leader()
		if !ok {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.conns[c] = t.Term
		p.mu.Unlock()
		d, err := net.DialTimeout("tcp", t.Addr, p.n.cfg.Lease)
		if err == nil {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				d.Close()
				return
			}
			p.ups[c] = d
			p.mu.Unlock()
			up = d
			break
		}
		// The new leader may not listen yet, or it died: look again.
		retry, stop := p.n.after(redialPause)
		select {
		case <-p.done:
			stop()
			return
		case <-retry:
		}
	}
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, c)
		closeWrite(up)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
	wg.Wait()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	c.Close()
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Proxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.ups, c)
	p.mu.Unlock()
}

// watch closes the connections proxied to a leader whose term has ended,
// as soon as the replica reads the next term.
func (p *Proxy) watch() {
	defer p.wg.Done()
	for {
		changed := p.n.replica.termChanged()
		select {
		case <-p.done:
			return
		case <-changed:
		}
		cur, _ := p.n.replica.leader()
		p.mu.Lock()
		for c, term := range p.conns {
			if term != 0 && term < cur.Term {
				c.Close()
				if up := p.ups[c]; up != nil {
					up.Close()
				}
			}
		}
		p.mu.Unlock()
	}
}
