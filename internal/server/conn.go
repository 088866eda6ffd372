package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/memory"
)

// Conn is one client connection, as extension handlers see it: its
// session, and the methods that write replies. It is used only by the
// connection's goroutine.
type Conn struct {
	srv  *Server
	nc   net.Conn
	br   *bufio.Reader
	r    *beanstalk.Reader
	w    *beanstalk.Writer
	sess *broker.Session
	cmd  beanstalk.Command
	dict beanstalk.Dict
	list []byte

	// mu protects idle and stopping, and orders the read deadlines set
	// under it: Shutdown interrupts a connection only while it waits for a
	// new command (or its TLS handshake), and the idle timeout never pushes
	// that interruption back.
	mu       sync.Mutex
	idle     bool
	stopping atomic.Bool // set with mu held; read without it between commands

	// waiting mirrors idle for the connection's goroutine, which alone
	// sets it, so that busy takes mu only when idle was set.
	waiting bool
	// fd is the socket's descriptor while the event loop serves the
	// connection (-1 otherwise); nc is then closed, and names the client.
	// looped is set while the loop serves it: reads and writes are then
	// raw system calls that never wait; it changes only with Server.mu
	// held, by the loop handing the connection to a goroutine (handoff)
	// or the goroutine handing it back (relooped). loopable is set if the
	// loop took the connection when it came, and cleared once it waits in
	// a reserve: a worker keeps its goroutine from then on. parked is set by a command
	// that must wait (awaitJob) while looped: the loop hands the
	// connection to a goroutine, which runs the command again. unsent
	// holds replies a raw write could not send; the goroutine sends them
	// first. putWait is set by a put run on the loop whose job is being
	// logged (Session.StartPut): the loop answers it, and runs the
	// connection's next commands, once the write for every connection's
	// put of its pass is done; readErr is what the loop's read of the
	// socket returned in that pass, kept for then.
	fd       int
	seen     time.Time // while looped: when bytes last came (IdleTimeout)
	looped   bool
	loopable bool
	parked   bool
	unsent   []byte
	putWait  bool
	readErr  error

	// reserving is set by the connection's goroutine while a reserve
	// blocks (before the hang-up watch starts, cleared after it ends): the
	// watch's reads get no idle timeout.
	reserving bool
}

// connBufferSize is the size of each connection's read and write buffers:
// room for about a hundred pipelined 64-byte puts per read, 16 KiB per
// connection in all. Bodies larger than a buffer bypass it.
const connBufferSize = 8 << 10

// aLongTimeAgo is a deadline in the past, to interrupt a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{
		srv:  s,
		nc:   nc,
		fd:   -1,
		sess: s.b.Open(),
	}
	c.w = beanstalk.NewWriter(bufio.NewWriterSize(connWriter{c}, connBufferSize))
	c.br = bufio.NewReaderSize(flushReader{c}, connBufferSize)
	c.r = beanstalk.NewReader(c.br, s.cfg.MaxJobSize)
	c.r.OnLine(c.busy)
	c.r.OnDropped(memory.Dropped)
	c.r.PutBuffers(c.sess.BodyBuffer)
	return c
}

// flushReader reads from the socket, sending the buffered replies first:
// replies to pipelined commands share writes, and are sent whenever the
// connection must wait for more input (also in the middle of a command).
type flushReader struct{ c *Conn }

func (f flushReader) Read(p []byte) (int, error) {
	if f.c.looped {
		return f.c.loopRead(p)
	}
	if f.c.w.Buffered() > 0 {
		if err := f.c.w.Flush(); err != nil {
			return 0, err
		}
	}
	if d := f.c.srv.cfg.IdleTimeout; d > 0 && !f.c.reserving {
		f.c.armIdle(d)
	}
	return f.c.nc.Read(p)
}

// connWriter writes replies to the socket: with raw system calls that
// never wait while the event loop serves the connection, else through
// net.Conn.
type connWriter struct{ c *Conn }

func (w connWriter) Write(p []byte) (int, error) {
	if w.c.looped {
		return w.c.loopWrite(p)
	}
	return w.c.nc.Write(p)
}

// errWouldBlock is what a read returns on the event loop when the socket
// has nothing more: the loop runs only commands it has whole, so no
// command sees it.
var errWouldBlock = errors.New("server: read would block")

// errParked is what awaitJob returns on the event loop when the reserve
// must wait: the command has no reply yet and runs again off the loop.
var errParked = errors.New("server: command must wait off the event loop")

// resume starts a goroutine's service of a connection the event loop
// handed over: it sends the replies the loop could not, then runs again
// the command that had to wait. It reports false if the connection must
// close.
func (c *Conn) resume() bool {
	if len(c.unsent) > 0 {
		_, err := c.nc.Write(c.unsent)
		c.unsent = nil
		if err != nil {
			return false
		}
	}
	if c.parked {
		c.parked = false
		return c.run()
	}
	return true
}

// armIdle gives the next read d to bring something, unless Shutdown has
// already interrupted the wait for a command.
func (c *Conn) armIdle(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle && c.stopping.Load() {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
}

// handshake runs the TLS handshake within Config.HandshakeTimeout (a
// shutdown interrupts it); a client that fails it or is too slow is
// logged at debug and its connection closed (handshake reports false).
func (c *Conn) handshake(tc *tls.Conn) bool {
	_ = tc.SetDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))
	if !c.setIdle(true) {
		return false
	}
	err := tc.Handshake()
	c.setIdle(false)
	if err != nil {
		c.srv.log.Debug("TLS handshake failed; connection closed", "remote", c.nc.RemoteAddr().String(),
			"err", err, "timed_out", isTimeout(err), "handshake_timeout", c.srv.cfg.HandshakeTimeout)
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	return true
}

// stop asks the connection to close once it has answered what it was
// sent; called by Shutdown with Server.mu held.
func (c *Conn) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping.Store(true)
	if c.idle {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// setIdle marks the connection as waiting for a command (or not). It
// reports false if the server is shutting down and the connection must
// close instead of waiting.
func (c *Conn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if idle && c.stopping.Load() {
		return false
	}
	c.idle = idle
	return true
}

// busy marks the connection as running a command (its line has been
// read): Shutdown lets it finish.
func (c *Conn) busy() {
	if c.waiting {
		c.waiting = false
		c.setIdle(false)
	}
}

// serve runs the connection until the client quits or hangs up, a write
// fails, or the server shuts down; or, with the event loop, until it has
// answered everything it was sent and hands the connection back to the
// loop (see loop_linux.go).
func (c *Conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		c.end()
		return
	}
	if !c.resume() {
		c.end()
		return
	}
	for {
		if c.br.Buffered() == 0 {
			if c.loopable && c.srv.relooped(c) {
				return
			}
			// Nothing pipelined: the read will send the replies, then wait.
			if !c.setIdle(true) {
				_ = c.w.Flush()
				break
			}
			c.waiting = true
		}
		if !c.step() {
			break
		}
	}
	c.end()
}

// end closes the connection: it is untracked first, so that once the
// session no longer counts in current-connections a new connection is not
// refused. Shutdown and Close wait for it (Server.conns).
func (c *Conn) end() {
	c.srv.untrack(c)
	c.sess.Close()
	c.closeSocket()
	c.srv.conns.Done()
}

// step reads one command and runs it. It reports false if the
// connection must close.
func (c *Conn) step() bool {
	err := c.r.ReadCommand(&c.cmd)
	c.busy()
	op := c.cmd.Op
	if op != beanstalk.OpNone {
		c.srv.counts[op].Add(1)
	}
	if err != nil {
		rep := beanstalk.ErrorReply(err)
		if rep == "" {
			switch {
			case err == errWouldBlock:
				// The loop ran a command it had not received whole: a
				// bug, answered as an unreadable connection.
				c.srv.log.Error("event loop: command read past the buffered input", "remote", c.nc.RemoteAddr().String())
			case isTimeout(err) && !c.stopping.Load():
				c.srv.log.Debug("connection closed: idle for the idle timeout", "remote", c.nc.RemoteAddr().String(),
					"idle_timeout", c.srv.cfg.IdleTimeout)
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err):
				c.srv.log.Debug("connection read failed", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			return false
		}
		c.w.Reply(rep)
		return true
	}
	return c.run()
}

// run runs the command just read (c.cmd). It reports false if the
// connection must close.
func (c *Conn) run() bool {
	op := c.cmd.Op
	if op == beanstalk.OpQuit {
		_ = c.w.Flush()
		return false
	}
	h := handlers[op]
	if h == nil {
		c.w.Reply(beanstalk.ReplyUnknownCommand)
		return true
	}
	if !h(c, &c.cmd) {
		_ = c.w.Flush()
		return false
	}
	if c.putWait {
		return true // answered by finishPut
	}
	return c.settle()
}

// settle ends a command: it reports false, having sent the replies, if
// Shutdown asked the connection to close and nothing more was sent.
func (c *Conn) settle() bool {
	if c.stopping.Load() && c.br.Buffered() == 0 {
		_ = c.w.Flush()
		return false
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Session returns the connection's broker session.
func (c *Conn) Session() *broker.Session { return c.sess }

// Broker returns the server's broker.
func (c *Conn) Broker() *broker.Broker { return c.srv.b }

// Reply writes a fixed reply such as beanstalk.ReplyDeleted.
func (c *Conn) Reply(msg string) { c.w.Reply(msg) }

// Number writes "<word> <n>\r\n".
func (c *Conn) Number(word string, n uint64) { c.w.Number(word, n) }

// Job writes "<word> <id> <bytes>\r\n<body>\r\n".
func (c *Conn) Job(word string, id uint64, body []byte) { c.w.Job(word, id, body) }

// OK writes "OK <bytes>\r\n<data>\r\n".
func (c *Conn) OK(data []byte) { c.w.OK(data) }

// Dict returns the connection's scratch dictionary, reset, for a stats
// reply sent with OK(d.Bytes()).
func (c *Conn) Dict() *beanstalk.Dict {
	c.dict.Reset()
	return &c.dict
}

// ReplyError answers an engine error with its wire reply: NOT_FOUND,
// DRAINING, OUT_OF_MEMORY, NOT_IGNORED, TIMED_OUT, DEADLINE_SOON, and
// INTERNAL_ERROR for anything else. It reports false if the connection
// must close instead (the broker is closed).
func (c *Conn) ReplyError(err error) bool {
	switch {
	case err == errParked:
		// No reply: the command runs again off the event loop.
	case errors.Is(err, broker.ErrNotFound):
		c.w.Reply(beanstalk.ReplyNotFound)
	case errors.Is(err, broker.ErrDraining):
		c.w.Reply(beanstalk.ReplyDraining)
	case errors.Is(err, broker.ErrOutOfMemory):
		c.w.Reply(beanstalk.ReplyOutOfMemory)
	case errors.Is(err, broker.ErrNotIgnored):
		c.w.Reply(beanstalk.ReplyNotIgnored)
	case errors.Is(err, broker.ErrTimedOut):
		c.w.Reply(beanstalk.ReplyTimedOut)
	case errors.Is(err, broker.ErrDeadlineSoon):
		c.w.Reply(beanstalk.ReplyDeadlineSoon)
	case errors.Is(err, broker.ErrClosed), errors.Is(err, context.Canceled) && c.srv.ctx.Err() != nil:
		return false
	default:
		c.srv.log.Error("command failed", "cmd", c.cmd.Op.String(), "err", err)
		c.w.Reply(beanstalk.ReplyInternalError)
	}
	return true
}

// reserve answers reserve and reserve-with-timeout (timeout < 0: forever).
func (c *Conn) reserve(timeout time.Duration) bool {
	res, err := c.awaitJob(timeout)
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Job("RESERVED", uint64(res.ID), res.Body)
	return true
}

// awaitJob reserves a job for the connection, waiting up to timeout
// (negative: forever) for one: the work of reserve, reserve-with-timeout
// and claim, whose replies differ. It first tries without waiting; only a
// reserve that must wait flushes the replies before it and watches for
// the client hanging up.
func (c *Conn) awaitJob(timeout time.Duration) (broker.Reserved, error) {
	res, err := c.sess.Reserve(c.srv.ctx, 0)
	if errors.Is(err, broker.ErrTimedOut) && timeout != 0 && c.looped {
		// A worker that waits for jobs keeps the goroutine it is handed
		// to: handing it back to the loop after each job, and over again
		// at its next wait, cost more CPU and a longer tail than the
		// goroutine's park (put-reserve-delete with waiting workers,
		// docs/performance.md).
		c.parked, c.loopable = true, false
		return broker.Reserved{}, errParked
	}
	if errors.Is(err, broker.ErrTimedOut) && timeout != 0 {
		if c.w.Flush() != nil {
			return broker.Reserved{}, broker.ErrClosed // the client is gone: close
		}
		res, err = c.blockingReserve(timeout)
	}
	return res, err
}

// blockingReserve waits in Reserve while a second goroutine watches the
// socket: if the client hangs up, the reserve is cancelled and answered
// TIMED_OUT, as beanstalkd answers a client that half-closes. Bytes the
// client pipelines meanwhile stay buffered for after the reserve.
func (c *Conn) blockingReserve(timeout time.Duration) (broker.Reserved, error) {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	c.reserving = true
	defer func() { c.reserving = false }()
	// The idle timeout armed for reading the reserve must not end the
	// watch: a blocked reserve is not idle.
	_ = c.nc.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.watchHangup(cancel)
	}()
	res, err := c.sess.Reserve(ctx, timeout)
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	<-done
	_ = c.nc.SetReadDeadline(time.Time{})
	if errors.Is(err, context.Canceled) && c.srv.ctx.Err() == nil {
		err = broker.ErrTimedOut // the client hung up
	}
	return res, err
}

// watchHangup blocks reading ahead until the client hangs up (then it calls
// cancel), the read deadline passes, or the buffer is full.
func (c *Conn) watchHangup(cancel context.CancelFunc) {
	for {
		n := c.br.Buffered()
		if n >= c.br.Size() {
			return
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			if !isTimeout(err) {
				cancel()
			}
			return
		}
	}
}

// refuseLinger bounds how long a refused connection is read from after
// its reply, so that closing it does not reset the reply away.
const refuseLinger = time.Second

// refuse answers a connection beyond MaxConnections "OUT_OF_MEMORY\r\n"
// (after the TLS handshake on a TLS port, within HandshakeTimeout) and
// closes it. What the client sent meanwhile is read and dropped for up to
// refuseLinger, so that the close does not reset the connection before
// the client has read the reply.
func (s *Server) refuse(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			s.log.Debug("refused connection: TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
			return
		}
	}
	if _, err := io.WriteString(nc, beanstalk.ReplyOutOfMemory); err != nil {
		return
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(refuseLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
}
