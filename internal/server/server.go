// Package server serves the beanstalkd protocol over TCP: commands read
// with the beanstalk codec run on a broker.Session, for each connection.
// On Linux plain connections are served by one event loop on epoll
// (loop_linux.go) and handed to a goroutine of their own only while one
// must wait (a reserve with no job, a large body, a full socket); TLS
// connections, those of a server with Config.Goroutines, and every
// connection elsewhere, have a goroutine each (conn.go). It owns the listener and the connections, not the
// broker: the caller closes the broker after Shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/stats"
)

// Version is Reprieve's version, reported as the "version" key of stats
// unless Config.Version says otherwise.
var Version = "0.1.0"

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server: closed")

// BinlogStats is the durable log's part of the stats reply, under
// beanstalkd's binlog-* keys.
type BinlogStats = stats.Binlog

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// Broker runs the commands; required.
	Broker *broker.Broker
	// MaxJobSize is the largest put body accepted, in bytes; default the
	// broker's MaxJobSize.
	MaxJobSize int
	// Logger receives connection errors; default slog.Default().
	Logger *slog.Logger
	// Version is the stats "version" value; default Version.
	Version string
	// Binlog, if set, gives the binlog-* stats keys; without it they are
	// those of a beanstalkd running without -b (zeros, max size 10485760).
	Binlog func() BinlogStats
	// ExtraStats, if set, gives keys appended to the stats reply after
	// beanstalkd's own (the durable log's sizes, for one).
	ExtraStats func() []beanstalk.KeyValue
	// TLS, if set, serves every listener over TLS with this configuration.
	// Without it Serve warns when it listens beyond loopback.
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS connection's handshake: a client that
	// has not finished it by then is closed (logged at debug); default
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxConnections, if positive, is the most connections served at once:
	// one more is answered "OUT_OF_MEMORY\r\n" and closed, and counted in
	// the total-connections-refused stats key. Zero: no limit.
	MaxConnections int
	// IdleTimeout, if positive, closes a connection that has sent nothing
	// for that long while the server waits for its next command or the
	// rest of one; a connection blocked in a reserve is not idle. Zero:
	// connections may stay idle for ever, as in beanstalkd.
	IdleTimeout time.Duration
	// Goroutines serves every connection with a goroutine of its own. By
	// default, on Linux, plain (non-TLS) connections are served from one
	// event loop on epoll (see loop_linux.go), with fewer wake-ups per
	// request; commands run on the loop's thread, those that wait for the
	// log's durability too, so set Goroutines where that wait is long
	// (fsync always, cluster mode): one connection's wait would hold up
	// the others. A reserve that must wait, a body larger than a
	// connection's buffer and a reply the socket will not take now are
	// served by a goroutine either way. With TLS, and off Linux, every
	// connection has its goroutine. On the loop, an IdleTimeout closes a
	// connection up to a quarter of it late (the loop looks for idle
	// connections four times per IdleTimeout).
	Goroutines bool
}

// DefaultHandshakeTimeout is Config.HandshakeTimeout's default.
const DefaultHandshakeTimeout = 10 * time.Second

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.Broker == nil {
		return errors.New("server: config: Broker is required")
	}
	if c.MaxJobSize < 0 {
		return fmt.Errorf("server: config: MaxJobSize %d is negative", c.MaxJobSize)
	}
	if c.HandshakeTimeout < 0 || c.IdleTimeout < 0 || c.MaxConnections < 0 {
		return fmt.Errorf("server: config: HandshakeTimeout %v, IdleTimeout %v and MaxConnections %d must not be negative",
			c.HandshakeTimeout, c.IdleTimeout, c.MaxConnections)
	}
	return nil
}

// Server accepts connections and serves them until Shutdown or Close.
type Server struct {
	cfg     Config
	b       *broker.Broker
	log     *slog.Logger
	started time.Time

	// ctx is cancelled by Shutdown and Close: blocked reserves end.
	ctx    context.Context
	cancel context.CancelFunc

	// counts holds the cmd-* counters, by Op.
	counts [beanstalk.MaxOps]atomic.Uint64
	// refused counts the connections refused by MaxConnections.
	refused atomic.Uint64

	conns sync.WaitGroup // one per connection, served by a goroutine or the loop

	// mu protects listeners, active, closed, killed, loop, noLoop and each
	// Conn's looped.
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	active    map[*Conn]struct{}
	closed    bool
	killed    bool  // closeAll was called: connections close, none is handed off
	loop      *loop // started by the first connection it serves
	noLoop    bool  // the loop could not start
	// beforePass, set by tests before the first connection, runs on the
	// loop before each look for events.
	beforePass func()
}

// New returns a Server for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxJobSize == 0 {
		cfg.MaxJobSize = cfg.Broker.MaxJobSize()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = Version
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		b:         cfg.Broker,
		log:       cfg.Logger,
		started:   time.Now(),
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		active:    map[*Conn]struct{}{},
	}, nil
}

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown or Close, when it returns ErrServerClosed; it returns
// other accept errors at once. ln is closed on return. With Config.TLS,
// connections are served over TLS; without it, a listener beyond loopback
// is logged as a warning, since anyone who reaches it can change jobs.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	} else if !IsLoopback(ln.Addr().String()) {
		s.log.Warn("the job port is served without TLS beyond loopback: anyone who can reach it can put, reserve, "+
			"delete and kick jobs and read their bodies, in clear text; serve it over TLS (--tls-cert, --tls-key, "+
			"and --tls-client-ca to require client certificates), or listen on 127.0.0.1 behind a firewall or tunnel",
			"addr", ln.Addr().String())
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff = 0
		if !s.track(nc) {
			nc.Close()
			return ErrServerClosed
		}
	}
}

// track starts serving nc, unless the server is closed; beyond
// MaxConnections it is refused instead.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.cfg.MaxConnections > 0 && len(s.active) >= s.cfg.MaxConnections {
		s.refused.Add(1)
		s.log.Debug("connection refused: MaxConnections are open", "remote", nc.RemoteAddr().String(), "max", s.cfg.MaxConnections)
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.refuse(nc)
		}()
		return true
	}
	c := newConn(s, nc)
	s.active[c] = struct{}{}
	s.conns.Add(1)
	if s.looping() {
		// Set before take: the loop may serve c, and clear it, at once.
		c.loopable = true
		if s.loop.take(c) {
			return true
		}
		c.loopable = false
	}
	go c.serve()
	return true
}

// looping reports whether plain connections go to the event loop,
// starting it if needed. s.mu is held.
func (s *Server) looping() bool {
	if s.cfg.Goroutines || s.cfg.TLS != nil || s.noLoop {
		return false
	}
	if s.loop == nil {
		l, err := startLoop(s)
		if err != nil {
			s.noLoop = true
			s.log.Warn("connections are served by goroutines", "err", err)
			return false
		}
		s.loop = l
	}
	return true
}

// relooped hands c, which the loop took when it came and a goroutine
// serves now, back to the event loop once the goroutine has answered
// everything it was sent; it reports false if c stays with the goroutine
// (the server is stopping, or a system call failed).
func (s *Server) relooped(c *Conn) bool {
	if c.w.Flush() != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && !c.stopping.Load() && s.loop.take(c)
}

// endLoop ends the event loop, once every connection is gone.
func (s *Server) endLoop() {
	s.mu.Lock()
	l := s.loop
	s.loop = nil
	s.noLoop = true
	s.mu.Unlock()
	if l != nil {
		l.end()
	}
}

// untrack forgets c, which is closing: it no longer counts against
// MaxConnections.
func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.active, c)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting, lets every connection finish the command it is
// running (a blocked reserve ends at once, without a reply), closes each
// connection when it has answered all the commands it had sent, and waits
// for them. If ctx ends first, the remaining connections are closed at once
// and ctx.Err() is returned after they are gone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.active {
		c.stop()
	}
	if s.loop != nil {
		s.loop.stopAll()
	}
	s.mu.Unlock()
	s.cancel()

	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.endLoop()
		return nil
	case <-ctx.Done():
		s.closeAll()
		<-done
		s.endLoop()
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection at once, then waits for
// their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.closeAll()
	s.conns.Wait()
	s.endLoop()
	return nil
}

// closeAll closes every connection: the loop closes those it serves.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = true
	for c := range s.active {
		if !c.looped {
			c.nc.Close()
		}
	}
	if s.loop != nil {
		s.loop.killAll()
	}
}

// SetDraining turns drain mode on or off: while on, put answers DRAINING
// and stats says "draining: true".
func (s *Server) SetDraining(on bool) { s.b.SetDraining(on) }

// Stopping reports whether Shutdown or Close has been called.
func (s *Server) Stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Broker returns the broker the server runs commands on.
func (s *Server) Broker() *broker.Broker { return s.b }

// Count returns how many times the command op was run (the cmd-* stats).
func (s *Server) Count(op beanstalk.Op) uint64 { return s.counts[op].Load() }

// Looped returns how many connections the event loop serves now: those
// not handed to a goroutine (see Config.Goroutines). Zero without the
// loop.
func (s *Server) Looped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.active {
		if c.looped {
			n++
		}
	}
	return n
}

// Refused returns how many connections were refused because
// MaxConnections were open (the total-connections-refused stats key).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// IsLoopback reports whether addr (HOST:PORT) listens on loopback only:
// a loopback IP or "localhost". An empty host means every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
