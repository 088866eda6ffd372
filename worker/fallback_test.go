package worker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/worker"
)

// switchProxy forwards TCP connections to a backend server. switchTo
// moves every connection, open ones included, to another server: what a
// client sends afterwards reaches the new server on a fresh connection,
// and the old server sees its connection close (and gives back the jobs
// it had reserved). It stands for a server replaced under the worker's
// feet, as a load balancer's failover does.
type switchProxy struct {
	t  *testing.T
	ln net.Listener
	wg sync.WaitGroup // the accept loop and the copiers

	mu      sync.Mutex // protects backend, conns
	backend string
	conns   map[*proxied]bool
}

// proxied is one client connection and its current upstream.
type proxied struct {
	client net.Conn
	mu     sync.Mutex // protects up
	up     net.Conn
}

func newSwitchProxy(t *testing.T, backend string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{t: t, ln: ln, backend: backend, conns: map[*proxied]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.client.Close()
			c.upstream().Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			up, err := net.Dial("tcp", p.backend)
			if err != nil {
				p.mu.Unlock()
				nc.Close()
				continue
			}
			c := &proxied{client: nc, up: up}
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Go(func() { c.down(up) })
			p.wg.Go(func() { c.forward() })
		}
	})
	return p
}

func (p *switchProxy) addr() string { return p.ln.Addr().String() }

// switchTo sends every connection to backend from now on.
func (p *switchProxy) switchTo(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = backend
	for c := range p.conns {
		up, err := net.Dial("tcp", backend)
		if err != nil {
			p.t.Fatalf("proxy: dial %s: %v", backend, err)
		}
		c.mu.Lock()
		old := c.up
		c.up = up
		c.mu.Unlock()
		old.Close()
		p.wg.Go(func() { c.down(up) })
	}
}

func (c *proxied) upstream() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// forward copies what the client sends to the current upstream.
func (c *proxied) forward() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			c.upstream().Write(buf[:n])
		}
		if err != nil {
			c.upstream().Close()
			return
		}
	}
}

// down copies what up answers to the client, until up is closed.
func (c *proxied) down(up net.Conn) {
	_, err := io.Copy(c.client, up)
	if err == nil && c.upstream() == up {
		c.client.Close() // the server hung up
	}
}

// TestFailAnsweredUnknownCommand runs a worker through a proxy from a
// Reprieve server to a real beanstalkd, switched while a handler runs: the
// job was claimed on Reprieve, so its error goes out as fail, which
// beanstalkd answers UNKNOWN_COMMAND. The worker logs that the job will be
// tried again (the connection is closed, so Reprieve has it ready again,
// with no failure counted: nothing is lost), and from then on treats the
// server as plain: its next job, from beanstalkd (where claim is
// UNKNOWN_COMMAND too, so it is reserved with reserve-with-timeout), fails
// by the worker's own schedule (MaxAttempts 1: buried).
func TestFailAnsweredUnknownCommand(t *testing.T) {
	rep := reprieve(t, "", nil)
	bean := servertest.StartBeanstalkd(t).Addr
	proxy := newSwitchProxy(t, rep)
	started := make(chan *worker.Job, 2)
	proceed := make(chan struct{})
	r := start(t, worker.Config{Addrs: []string{proxy.addr()}, MaxAttempts: 1}, func(w *worker.Worker) {
		w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
			started <- j
			<-proceed
			return errors.New("boom")
		}, worker.TubeOptions{})
	})
	onRep, onBean := dial(t, rep), dial(t, bean)
	id := put(t, onRep, "jobs", "first", time.Minute)
	if j := recv(t, started, "the job from Reprieve"); j.ID != id || j.Attempt != 1 || j.History.Origin != "jobs" {
		t.Fatalf("handler got %+v", j)
	}
	proxy.switchTo(bean)
	close(proceed)
	poll.Until(t, "the worker logs fail's UNKNOWN_COMMAND", func() bool {
		return strings.Contains(r.log.String(), "the server has no fail command, so it is tried again")
	})
	st := waitStats(t, onRep, id, "ready on Reprieve again", inState("ready"))
	if st["failures"] != "0" || st["reserves"] != "1" || st["buries"] != "0" {
		t.Errorf("on Reprieve: failures %s, reserves %s, buries %s; want 0, 1, 0", st["failures"], st["reserves"], st["buries"])
	}

	id2 := put(t, onBean, "jobs", "second", time.Minute)
	if j := recv(t, started, "the job from beanstalkd"); j.ID != id2 || string(j.Body) != "second" || j.Attempt != 1 || j.History != (client.FailureHistory{}) {
		t.Fatalf("handler got %+v", j)
	}
	waitStats(t, onBean, id2, "buried on beanstalkd", inState("buried"))
	if !strings.Contains(r.log.String(), `msg="worker: job failed; buried"`) {
		t.Errorf("no log of the burial:\n%s", r.log)
	}
}
