package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/certs"
	"github.com/reprieve/reprieve/internal/cluster"
	"github.com/reprieve/reprieve/internal/policy"
	jobport "github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
)

// Server is a running Reprieve server: built by New, served by Serve,
// stopped by Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	pair *certs.Pair   // the job port's certificate, nil without TLS
	adm  *admin.Server // nil without the admin interface
	wlog *wal.Log      // nil in memory-only mode
	b    *broker.Broker
	srv  *jobport.Server
	ln   net.Listener
	// observer keeps the admin interface's histograms and per-tube
	// failure counts; nil without the admin interface.
	observer *admin.Observer

	mu       sync.Mutex  // protects policies, serving, keeperStop, stopFollow
	policies *policy.Set // in force; nil without PolicyFile
	serving  bool        // Serve was called (or Shutdown, which forbids it)

	keeperStop func() // stops the memory keeper and waits; nil when not running
	stopFollow func() // ends the follower phase; nil when not following

	node     *cluster.Node                  // nil outside cluster mode
	leader   atomic.Pointer[cluster.Leader] // set once the node leads
	followed chan struct{}                  // closed when the follower phase ends
	leading  chan struct{}                  // closed once this server serves its clients itself (Leading)

	stopOnce sync.Once
	stopped  chan struct{} // closed when Shutdown is done
	stopErr  error         // Shutdown's result
}

// ErrServed is returned by a second call of Serve.
var ErrServed = errors.New("server: Serve already called")

// New checks cfg, starts every part in order (see the package
// documentation) and returns a server listening on its job port, not yet
// serving it: connections wait in the backlog until Serve. An invalid
// config, an unreadable or refused file, a busy address or a log that
// cannot be opened is an error, and nothing is left running.
func New(cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, stopped: make(chan struct{}), followed: make(chan struct{}), leading: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	defer func() {
		if err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			s.close()
		}
	}()
	bc := broker.Config{MaxJobSize: cfg.MaxJobSize, Logger: s.log}
	sc := jobport.Config{MaxJobSize: cfg.MaxJobSize, Logger: s.log, MaxConnections: cfg.MaxConnections,
		IdleTimeout: cfg.IdleTimeout, HandshakeTimeout: cfg.TLSHandshakeTimeout}

	// 1. Policies.
	if cfg.PolicyFile != "" {
		if s.policies, err = policy.Load(cfg.PolicyFile); err != nil {
			return nil, &SettingError{Setting: "PolicyFile", Err: err}
		}
		bc.Policies = s.policies
		s.logPolicies("loaded")
	}
	// 2. The job port's certificate.
	if cfg.TLSCertFile != "" {
		if sc.TLS, err = s.loadTLS(); err != nil {
			return nil, err
		}
	}
	// 3. The admin listener, before a long replay.
	if cfg.Admin.Listen != "" {
		s.observer = admin.NewObserver(0)
		bc.Observer = s.observer
		a := cfg.Admin
		s.adm, err = admin.Listen(admin.ListenConfig{Addr: a.Listen, Hosts: a.Hosts, CertFile: a.CertFile, KeyFile: a.KeyFile, CAFile: a.CAFile, Logger: s.log})
		if err != nil {
			return nil, &SettingError{Setting: "Admin.Listen", Err: err}
		}
	}
	// 4. The log, replayed into the engine.
	var rec *wal.Recovery
	if cfg.Cluster.Name != "" {
		// The job port first: its address (port 0 resolved) is what the
		// other nodes proxy to unless Cluster.Advertise says otherwise.
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, &SettingError{Setting: "Listen", Err: err}
		}
		if err := s.openNode(&bc, &sc); err != nil {
			return nil, err
		}
	} else if cfg.DataDir != "" {
		if rec, err = s.openLog(&bc, &sc); err != nil {
			return nil, err
		}
	} else {
		s.log.Info("no data directory: jobs are kept in memory only")
	}
	s.b = broker.New(bc)
	if rec != nil {
		s.b.Restore(rec.Jobs, rec.NextID)
		s.b.RestoreTicks(rec.Ticks)
		rec.Jobs = nil
		// The replay leaves garbage of several times the jobs' size (the
		// decoded records, the recovery's tables): return it to the
		// operating system now rather than over minutes. Stats takes the
		// log's lock, which the goroutine filling the log's index holds
		// until it is done.
		_ = s.wlog.Stats()
		if cfg.PaceMemory {
			debug.FreeOSMemory()
		}
	}
	sc.Broker = s.b
	if s.srv, err = jobport.New(sc); err != nil {
		return nil, err
	}
	// 5. The job port (opened before the node in cluster mode).
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, &SettingError{Setting: "Listen", Err: err}
		}
	}
	// 6. The admin interface.
	if s.adm != nil {
		if err := s.startAdmin(sc); err != nil {
			return nil, err
		}
	}
	if s.node == nil {
		close(s.leading)
	}
	return s, nil
}

// Leading returns a channel that is closed once the server answers its
// clients itself: outside cluster mode at once (they are served once
// Serve runs), in cluster mode when Serve has made this node its
// cluster's leader and restored the engine. A follower proxies its
// clients to the leader and is not leading: the channel of a node that
// never leads is never closed. After it is closed, the node may still
// stop leading (Serve then returns an error wrapping ErrDeposed).
func (s *Server) Leading() <-chan struct{} { return s.leading }

// SettingError is New's error about one setting of Config whose file
// cannot be used or whose address cannot be listened on.
type SettingError struct {
	// Setting names the field: "Listen", "PolicyFile", "TLSCertFile"
	// (the certificate or its key), "TLSClientCAFile", "Admin.Listen"
	// (its address or its certificate), "DataDir".
	Setting string
	Err     error
}

// Error reads like "server: Listen: listen tcp 127.0.0.1:11300: bind:
// address already in use (is another server running there?)".
func (e *SettingError) Error() string {
	msg := "server: " + e.Setting + ": " + e.Err.Error()
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		msg += " (is another server running there?)"
	}
	return msg
}

// Unwrap returns the cause.
func (e *SettingError) Unwrap() error { return e.Err }

// loadTLS loads and checks the job port's certificate and client CAs.
func (s *Server) loadTLS() (*tls.Config, error) {
	c := s.cfg
	pair, err := certs.Load(certs.Config{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile, CAFile: c.TLSCAFile})
	if err != nil {
		return nil, &SettingError{Setting: "TLSCertFile", Err: err}
	}
	s.pair = pair
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if c.TLSClientCAFile != "" {
		pool, err := certs.LoadCAs(c.TLSClientCAFile)
		if err != nil {
			return nil, &SettingError{Setting: "TLSClientCAFile", Err: err}
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	leaf := pair.Leaf()
	s.log.Info("job port over TLS", "cert", c.TLSCertFile, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "client_certs", c.TLSClientCAFile != "", "ca", c.TLSCAFile)
	return cfg, nil
}

// openLog opens and replays the log, makes it the engine's journal and
// the source of the binlog-* and wal-* stats keys.
func (s *Server) openLog(bc *broker.Config, sc *jobport.Config) (*wal.Recovery, error) {
	opts, err := s.cfg.logOptions()
	if err != nil {
		return nil, err
	}
	opts.Logger = s.log
	l, rec, err := wal.Open(opts)
	if err != nil {
		return nil, &SettingError{Setting: "DataDir", Err: err}
	}
	s.wlog = l
	s.log.Info("log replayed", "data", opts.Dir, "fsync", opts.Fsync.String(), "jobs", len(rec.Jobs),
		"next_id", rec.NextID, "segments", rec.Segments, "records", rec.Records, "took", rec.Took)
	bc.Journal = l
	// A put under fsync always waits for its fsync: on the event loop it
	// would hold up every other connection.
	sc.Goroutines = opts.Fsync == wal.FsyncAlways
	sc.Binlog = func() jobport.BinlogStats {
		st := l.Stats()
		return jobport.BinlogStats{
			OldestIndex:     int64(st.OldestSegment),
			CurrentIndex:    int64(st.HeadSegment),
			RecordsMigrated: int64(st.Migrated),
			RecordsWritten:  int64(st.Records),
			MaxSize:         st.SegmentSize,
		}
	}
	sc.ExtraStats = func() []beanstalk.KeyValue { return keyValues(l.Stats().StatsKeys()) }
	return rec, nil
}

// startAdmin builds the admin handler over the job server and serves it.
func (s *Server) startAdmin(sc jobport.Config) error {
	a := s.cfg.Admin
	h, err := admin.New(admin.Config{
		Broker:        s.b,
		Stats:         s.srv.Stats,
		Stopping:      s.srv.Stopping,
		Commands:      s.srv.Count,
		Refused:       s.srv.Refused,
		Binlog:        sc.Binlog,
		ExtraStats:    sc.ExtraStats,
		MaxJobSize:    sc.MaxJobSize,
		Version:       sc.Version,
		Observer:      s.observer,
		Settings:      a.Settings,
		Token:         a.Token,
		MetricsPublic: a.MetricsPublic,
		Logger:        s.log,
	})
	if err != nil {
		return fmt.Errorf("server: admin interface: %w", err)
	}
	s.adm.Start(h)
	s.log.Info("admin interface", "url", s.adm.URL(), "token", a.Token != "", "metrics_public", a.MetricsPublic)
	return nil
}

// Addr returns the job port's address, such as "127.0.0.1:41233" (the
// port chosen for a Listen with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AdminURL returns the admin interface's base URL, such as
// "http://127.0.0.1:8080", or "" if it is off.
func (s *Server) AdminURL() string {
	if s.adm == nil {
		return ""
	}
	return s.adm.URL()
}

// Serve serves the job port until ctx ends, then shuts down gracefully
// (Shutdown, bounded by Config.ShutdownTimeout) and returns nil; or until
// Shutdown is called elsewhere, when it returns nil once the shutdown is
// done. An error means the listener failed; the server is shut down
// then too. ErrServed for a second call, or a call after Shutdown.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	again := s.serving
	s.serving = true
	s.mu.Unlock()
	if again {
		return ErrServed
	}
	s.log.Info("serving", "addr", s.Addr(), "max_job_size", s.cfg.MaxJobSize, "version", jobport.Version, "pid", os.Getpid())
	if s.cfg.PaceMemory {
		s.startKeeper()
	}
	ln := s.ln
	var deposed <-chan struct{} // closed when a cluster node stops leading
	if s.node != nil {
		var err error
		if ln, deposed, err = s.follow(ctx); err != nil {
			// Shutdown, or the end of ctx, ended the follower phase; or
			// the node failed.
			sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
			defer cancel()
			s.Shutdown(sctx)
			if ctx.Err() != nil || errors.Is(err, errShutdown) {
				return nil
			}
			return err
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	select {
	case <-deposed:
		// Nothing more may reach a client: close every connection now.
		s.log.Error("cluster: this node no longer leads; closing every connection", "err", s.leader.Load().Err())
		now, cancel := context.WithCancel(context.Background())
		cancel()
		s.Shutdown(now)
		<-served
		return s.deposedError()
	case err := <-served:
		if errors.Is(err, jobport.ErrServerClosed) {
			<-s.stopped // Shutdown was called: wait for the rest of it
			return nil
		}
		s.Shutdown(context.Background())
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			s.log.Warn("shutdown timed out; connections were closed", "err", err)
		} else {
			s.log.Info("stopped")
		}
		<-served
		return nil
	}
}
