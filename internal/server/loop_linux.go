package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/sock"
)

// loop is the event loop that serves plain connections on Linux (unless
// Config.Goroutines): one goroutine on a locked OS thread waits in
// epoll_wait for every connection it serves, reads what a socket has with
// one read system call, runs each command it has received whole, and
// sends the replies with one write. A connection does not park a
// goroutine between requests, as beanstalkd's do not.
//
// What must wait is not done on the loop: a reserve that finds no job, a
// command not received whole within a buffer (a large body), a reply the
// socket will not take now. The loop then hands the connection to a
// goroutine that serves it as without the loop (conn.go), and that
// goroutine hands it back once it has answered everything it was sent.
// Commands that wait for the log's durability run on the loop, so
// Config.Goroutines is set where that wait is long (fsync always, cluster
// mode). A put does not wait where it runs: the loop appends the puts of
// every connection it serves in a pass, then waits once, so that one
// write to the log serves them all, and only then answers them and runs
// what each connection sent after its put (finishPuts).
//
// Only the loop reads, writes and closes a connection while it serves
// it: Shutdown and Close ask it to (stop, kill).
type loop struct {
	s      *Server
	ep     int           // the epoll instance
	wake   [2]int        // a pipe whose read end is in ep: the loop's doorbell
	ended  chan struct{} // closed when run returns
	ending chan struct{} // closed by end

	// idle is Config.IdleTimeout (0: none); the loop alone reads the
	// connections' seen times and sweeps them every idle/sweepsPerIdle.
	idle      time.Duration
	lastSweep time.Time

	// mu protects conns and the requests below.
	mu    sync.Mutex
	conns map[int32]*Conn // by fd: the connections the loop serves
	stop  bool            // Shutdown: close idle connections, hand off the others
	kill  bool            // Close: close every connection
	quit  bool            // end the loop (it serves no connection)
	// failed is set if epoll_wait failed: goroutines serve everything.
	failed bool

	// putting holds the connections of this pass whose put waits for the
	// log (Conn.putWait), and next those of the round finishPuts runs;
	// only the loop uses them.
	putting, next []*Conn

	beforePass func() // Server.beforePass
}

// startLoop creates the epoll instance and starts the loop's goroutine.
func startLoop(s *Server) (*loop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("server: event loop: %w", err)
	}
	l := &loop{s: s, ep: ep, ended: make(chan struct{}), ending: make(chan struct{}), conns: map[int32]*Conn{},
		idle: s.cfg.IdleTimeout, beforePass: s.beforePass}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(ep)
		return nil, fmt.Errorf("server: event loop: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake[0])}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.wake[0], &ev); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("server: event loop: %w", err)
	}
	go l.run()
	return l, nil
}

func (l *loop) closeFDs() {
	syscall.Close(l.wake[0])
	syscall.Close(l.wake[1])
	syscall.Close(l.ep)
}

// take makes the loop serve c, which a goroutine served or none yet, and
// which has nothing buffered to run; Server.mu is held. The loop serves
// a descriptor of its own, a duplicate of c.nc's, and c.nc is closed: a
// socket left in the runtime's poller would wake one of its threads at
// each request for nothing. take reports false, and changes nothing, if
// c.nc is not a TCP connection or a system call failed.
func (l *loop) take(c *Conn) bool {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return false
	}
	fd, err := sock.Dup(tc)
	if err != nil {
		return false
	}
	l.mu.Lock()
	if l.failed {
		l.mu.Unlock()
		syscall.Close(fd)
		return false
	}
	c.fd, c.looped = fd, true
	c.seen = time.Now()
	l.conns[int32(fd)] = c
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.conns, int32(fd))
		c.fd, c.looped = -1, false
		l.mu.Unlock()
		syscall.Close(fd)
		return false
	}
	// Closing the original removes it from the runtime's poller; the
	// socket stays open through fd. c.nc still names the client.
	c.nc.Close()
	return true
}

// give makes a goroutine's net.Conn of c's descriptor, which it closes;
// Server.mu is held. On failure c is closed.
func (l *loop) give(c *Conn) bool {
	f := os.NewFile(uintptr(c.fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	c.fd, c.looped = -1, false
	if err != nil {
		c.srv.log.Error("event loop: cannot hand a connection to a goroutine; closed", "remote", c.nc.RemoteAddr().String(), "err", err)
		return false
	}
	c.nc = nc
	return true
}

// remove stops watching c.
func (l *loop) remove(c *Conn) {
	_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.fd, nil)
	l.mu.Lock()
	delete(l.conns, int32(c.fd))
	l.mu.Unlock()
}

// ring wakes the loop after a request was set (with mu held).
func (l *loop) ring() {
	_, _ = syscall.Write(l.wake[1], []byte{1})
}

// request sets one of stop, kill or quit and wakes the loop.
func (l *loop) request(set func()) {
	l.mu.Lock()
	set()
	l.mu.Unlock()
	l.ring()
}

// stopAll asks the loop to do Shutdown's part (see control).
func (l *loop) stopAll() { l.request(func() { l.stop = true }) }

// killAll asks the loop to close every connection it serves.
func (l *loop) killAll() { l.request(func() { l.kill = true }) }

// end asks the loop to end, once it serves no connection, and waits.
func (l *loop) end() {
	close(l.ending)
	l.request(func() { l.quit = true })
	<-l.ended
	l.closeFDs()
}

func (l *loop) run() {
	defer close(l.ended)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	evs := make([]syscall.EpollEvent, 128)
	for {
		if l.beforePass != nil {
			l.beforePass()
		}
		// First look without waiting, by a raw system call: under load
		// the next events have often come while the last were served, and
		// a wait that may block costs the runtime's bookkeeping for it.
		n, err := sock.EpollPoll(l.ep, evs)
		if n == 0 && err == nil {
			n, err = syscall.EpollWait(l.ep, evs, l.waitMillis())
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		} else if err != nil {
			// Not expected of a valid epoll instance: serve what is left
			// by goroutines, so that nothing waits for the loop.
			l.s.log.Error("event loop failed; its connections are served by goroutines", "err", err)
			l.mu.Lock()
			l.failed = true
			l.mu.Unlock()
			l.handAll()
			l.waitQuit()
			return
		}
		var now time.Time
		if l.idle > 0 {
			now = time.Now()
		}
		rung := false
		for _, ev := range evs[:max(n, 0)] {
			if int(ev.Fd) == l.wake[0] {
				rung = true
				continue
			}
			l.mu.Lock()
			c := l.conns[ev.Fd]
			l.mu.Unlock()
			if c != nil {
				c.seen = now
				l.serve(c)
			}
		}
		l.finishPuts()
		if rung && l.control() {
			return
		}
		if l.idle > 0 && now.Sub(l.lastSweep) >= l.idle/sweepsPerIdle {
			l.sweep(now)
		}
	}
}

// sweepsPerIdle is how many times per IdleTimeout the loop looks for idle
// connections: one is closed between IdleTimeout and 1.25 × IdleTimeout
// after its last bytes came.
const sweepsPerIdle = 4

// waitMillis is how long epoll_wait may wait: for ever, or until the next
// sweep for idle connections.
func (l *loop) waitMillis() int {
	if l.idle <= 0 {
		return -1
	}
	return int(max(l.idle/sweepsPerIdle, time.Millisecond) / time.Millisecond)
}

// sweep closes the connections that have sent nothing for IdleTimeout,
// as a goroutine's read deadline does (conn.go).
func (l *loop) sweep(now time.Time) {
	l.lastSweep = now
	l.mu.Lock()
	var idle []*Conn
	for _, c := range l.conns {
		if now.Sub(c.seen) >= l.idle {
			idle = append(idle, c)
		}
	}
	l.mu.Unlock()
	for _, c := range idle {
		c.srv.log.Debug("connection closed: idle for the idle timeout", "remote", c.nc.RemoteAddr().String(),
			"idle_timeout", l.idle)
		l.close(c)
	}
}

// waitQuit blocks until end is called.
func (l *loop) waitQuit() { <-l.ending }

// control answers the requests; it reports whether the loop must end.
func (l *loop) control() bool {
	var b [64]byte
	for {
		if n, _ := syscall.Read(l.wake[0], b[:]); n <= 0 {
			break
		}
	}
	l.mu.Lock()
	stop, kill, quit := l.stop, l.kill, l.quit
	l.stop, l.kill = false, false
	conns := make([]*Conn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		switch {
		case kill:
			l.close(c)
		case stop:
			// As Shutdown treats a goroutine's connection: one that waits
			// for a command (or the rest of its line) closes; one whose
			// command line has come finishes that command first.
			if _, need := c.r.Ready(); need > 0 {
				l.handoff(c)
			} else {
				l.close(c)
			}
		}
	}
	return quit && len(conns) == 0
}

// handAll hands every connection to a goroutine.
func (l *loop) handAll() {
	l.mu.Lock()
	conns := make([]*Conn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		l.handoff(c)
	}
}

// serve reads what c's socket has and runs every command received whole.
func (l *loop) serve(c *Conn) {
	var rerr error
	if c.br.Buffered() < c.br.Size() {
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil && err != errWouldBlock {
			rerr = err
		}
	}
	l.runReady(c, rerr)
}

// finishPuts waits for the log once for the puts of the pass, which the
// first FinishPut writes together, answers each and runs what each
// connection sent after its put (which may be a put again: then another
// round).
func (l *loop) finishPuts() {
	for len(l.putting) > 0 {
		round := l.putting
		l.putting = l.next[:0]
		for i, c := range round {
			round[i] = nil
			if !c.finishPut() {
				l.close(c)
				continue
			}
			l.runReady(c, c.readErr)
		}
		l.next = round[:0]
	}
}

// runReady runs every command c has received whole, then sends the
// replies; rerr is the error the read of its socket returned, acted on
// after them. A put that waits for the log stops it (finishPuts).
func (l *loop) runReady(c *Conn, rerr error) {
	c.readErr = nil
	for {
		ok, need := c.r.Ready()
		if !ok {
			if rerr == nil && (need < 0 || need > c.br.Size()) {
				l.handoff(c) // a line too long or a body larger than the buffer
				return
			}
			break
		}
		if !c.step() {
			l.close(c)
			return
		}
		if c.putWait {
			c.readErr = rerr
			l.putting = append(l.putting, c)
			return
		}
		if c.parked || c.unsent != nil {
			l.handoff(c)
			return
		}
	}
	if rerr != nil {
		if rerr != io.EOF {
			c.srv.log.Debug("connection read failed", "remote", c.nc.RemoteAddr().String(), "err", rerr)
		}
		l.close(c)
		return
	}
	if c.w.Buffered() > 0 {
		if c.w.Flush() != nil {
			l.close(c)
			return
		}
	}
	if c.unsent != nil {
		l.handoff(c)
	}
}

// handoff makes a goroutine serve c (conn.go); after Close it closes c.
func (l *loop) handoff(c *Conn) {
	s := l.s
	s.mu.Lock()
	l.remove(c)
	killed := s.killed
	if killed {
		s.mu.Unlock()
		c.end()
		return
	}
	ok := l.give(c)
	s.mu.Unlock()
	if !ok {
		c.end()
		return
	}
	go c.serve()
}

// close sends what c has buffered, if the socket takes it, and closes c.
func (l *loop) close(c *Conn) {
	_ = c.w.Flush()
	l.remove(c)
	c.end()
}

// closeSocket closes c's socket, the loop's descriptor or the
// goroutine's net.Conn.
func (c *Conn) closeSocket() {
	if c.looped {
		syscall.Close(c.fd)
		return
	}
	c.nc.Close()
}

// loopRead reads what the socket has without waiting: errWouldBlock if
// nothing, io.EOF if the client has closed.
func (c *Conn) loopRead(p []byte) (int, error) {
	n, err := sock.Read(c.fd, p)
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.nc.RemoteAddr(), Err: err}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// loopWrite writes p without waiting; what the socket does not take now
// is kept in c.unsent, for the goroutine the loop then hands c to.
func (c *Conn) loopWrite(p []byte) (int, error) {
	if c.unsent != nil {
		c.unsent = append(c.unsent, p...)
		return len(p), nil
	}
	done := 0
	for done < len(p) {
		n, err := sock.Write(c.fd, p[done:])
		switch {
		case err == syscall.EAGAIN:
			c.unsent = append([]byte(nil), p[done:]...)
			return len(p), nil
		case err != nil:
			return done, &net.OpError{Op: "write", Net: "tcp", Addr: c.nc.RemoteAddr(), Err: err}
		}
		done += n
	}
	return len(p), nil
}
