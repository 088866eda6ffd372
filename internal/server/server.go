// Package server serves the beanstalkd protocol over TCP: one goroutine per
// connection reading commands with the beanstalk codec and running them on
// a broker.Session. It owns the listener and the connections, not the
// broker: the caller closes the broker after Shutdown.
package server

import (
	"context"
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
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.Broker == nil {
		return errors.New("server: config: Broker is required")
	}
	if c.MaxJobSize < 0 {
		return fmt.Errorf("server: config: MaxJobSize %d is negative", c.MaxJobSize)
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

	conns sync.WaitGroup // one per connection goroutine

	// mu protects listeners, active and closed.
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	active    map[*Conn]struct{}
	closed    bool
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
// other accept errors at once. ln is closed on return.
func (s *Server) Serve(ln net.Listener) error {
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

// track starts serving nc, unless the server is closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	c := newConn(s, nc)
	s.active[c] = struct{}{}
	s.conns.Add(1)
	go func() {
		defer s.conns.Done()
		c.serve()
		s.mu.Lock()
		delete(s.active, c)
		s.mu.Unlock()
	}()
	return true
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
	s.mu.Unlock()
	s.cancel()

	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeAll()
		<-done
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
	return nil
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.active {
		c.nc.Close()
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
