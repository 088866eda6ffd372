package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/config"
	jobport "github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
	"github.com/reprieve/reprieve/server"
)

func init() {
	register("serve", "run the job server (beanstalkd protocol)", runServe)
}

// maxJobSizeLimit is the largest --max-job-size accepted, beanstalkd's own
// limit on -z (1 GiB).
const maxJobSizeLimit = 1 << 30

// serveConfig is everything `reprieve serve` is configured with; each flag
// sets one field. Defaults live in defaultServeConfig.
type serveConfig struct {
	// Listen is the TCP address to listen on.
	Listen string
	// MaxJobSize is the largest job body accepted, in bytes.
	MaxJobSize int
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM/SIGINT.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error; LogFormat text or json.
	LogLevel, LogFormat string
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Listen:          "127.0.0.1:11300",
		MaxJobSize:      65535,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// Validate reports the first setting that cannot work, saying how to fix it.
func (c serveConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return usagef("--listen %q: want HOST:PORT, such as 127.0.0.1:11300 or :11300", c.Listen)
	}
	if c.MaxJobSize < 1 || c.MaxJobSize > maxJobSizeLimit {
		return usagef("--max-job-size %d: want 1 to %d bytes", c.MaxJobSize, maxJobSizeLimit)
	}
	if c.ShutdownTimeout <= 0 {
		return usagef("--shutdown-timeout %v: want a positive duration such as 10s", c.ShutdownTimeout)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usagef("--log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

// serveFlags are the flags of `reprieve serve` beyond serveConfig's, by
// part; each part's checks prefix their errors with its name.
type serveFlags struct {
	admin  adminFlags
	log    wal.Flags
	policy string // --config

	tlsCert, tlsKey, tlsClientCA, tlsCA string
	tlsHandshakeTimeout                 time.Duration

	maxConnections int
	idleTimeout    time.Duration
	eventLoop      bool

	cluster clusterFlags
}

// register adds the flags to fs.
func (f *serveFlags) register(fs *flag.FlagSet) {
	f.admin.register(fs, "the admin HTTP API, /metrics and the dashboard (docs/admin.md)", "delete and kick jobs")
	fs.IntVar(&f.maxConnections, "max-connections", 0, "serve at most this `many` connections at once; one more is answered OUT_OF_MEMORY and closed (0: no limit)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 0, "close a connection that sends nothing for this `duration` (a blocked reserve is not idle; 0: never)")
	fs.BoolVar(&f.eventLoop, "event-loop", true, "serve plain connections from one event loop on epoll (Linux), a goroutine only for a connection that must wait; false: a goroutine per connection (off anyway with TLS, --fsync always and in cluster mode)")
	fs.StringVar(&f.policy, "config", "", "tube policies: a YAML `file` of per-tube retry, give-up, retention, ready-expiry, concurrency, rate and unique, and periodic jobs (schedules) (docs/policies.md); reloaded on SIGHUP. Without it every tube behaves like beanstalkd")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve the job port over TLS with this PEM certificate `file` (the chain, leaf first; needs --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key `file` of --tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "require a client certificate signed by a CA of this PEM `file` (mutual TLS; needs --tls-cert)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "refuse a --tls-cert, at start and on SIGHUP, that does not verify against the CAs of this PEM `file` (what clients give to --tls-ca)")
	fs.DurationVar(&f.tlsHandshakeTimeout, "tls-handshake-timeout", jobport.DefaultHandshakeTimeout, "close a TLS connection that has not finished its handshake within this `duration`")
	f.log.Register(fs)
	f.cluster.register(fs)
}

// apply checks the flags, part by part, and sets them in sc.
func (f *serveFlags) apply(log *slog.Logger, sc *server.Config) error {
	if err := f.admin.validate(); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	sc.Admin = server.AdminConfig{Listen: f.admin.listen, Token: f.admin.token, Insecure: f.admin.insecure, MetricsPublic: f.admin.metricsPublic,
		CertFile: f.admin.certFile, KeyFile: f.admin.keyFile, CAFile: f.admin.caFile, Hosts: f.admin.hosts,
		Settings: func() any { return effective.shown() }}
	switch {
	case f.maxConnections < 0:
		return fmt.Errorf("limits: %w", usagef("--max-connections %d: want 0 (no limit) or more", f.maxConnections))
	case f.idleTimeout < 0:
		return fmt.Errorf("limits: %w", usagef("--idle-timeout %v: want 0 (off) or a positive duration such as 10m", f.idleTimeout))
	}
	sc.MaxConnections, sc.IdleTimeout = f.maxConnections, f.idleTimeout
	sc.GoroutinePerConnection = !f.eventLoop
	sc.PolicyFile = f.policy
	if err := f.applyTLS(sc); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	opts, enabled, err := f.log.Options(log, sc.MaxJobSize)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if enabled {
		sc.DataDir, sc.Fsync, sc.SegmentSize = opts.Dir, f.log.Fsync, opts.SegmentSize
	}
	f.cluster.apply(sc)
	if sc.Cluster.Name != "" && sc.Cluster.NATSURL == "" && sc.DataDir == "" {
		return fmt.Errorf("cluster: %w", usagef("--cluster-name with embedded NATS keeps its store in --data DIR/nats: set --data and drop --no-log, or use --nats-url"))
	}
	if err := sc.Validate(); err != nil && sc.Cluster.Name != "" {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// applyTLS checks the --tls-* flags together.
func (f *serveFlags) applyTLS(sc *server.Config) error {
	if f.tlsHandshakeTimeout <= 0 {
		return usagef("--tls-handshake-timeout %v: want a positive duration such as 10s", f.tlsHandshakeTimeout)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together: give both to serve the job port over TLS, or neither for plain TCP")
	}
	if f.tlsCert == "" && f.tlsClientCA != "" {
		return usagef("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS")
	}
	if f.tlsCert == "" && f.tlsCA != "" {
		return usagef("--tls-ca needs --tls-cert and --tls-key: it checks their certificate")
	}
	sc.TLSCertFile, sc.TLSKeyFile, sc.TLSClientCAFile, sc.TLSCAFile = f.tlsCert, f.tlsKey, f.tlsClientCA, f.tlsCA
	sc.TLSHandshakeTimeout = f.tlsHandshakeTimeout
	return nil
}

// startError turns New's error about a setting into one that names the
// flag, as the command's user wrote it.
func startError(err error, listen string) error {
	var se *server.SettingError
	if !errors.As(err, &se) {
		return err
	}
	busy := func(flag string) string {
		if errors.Is(se.Err, syscall.EADDRINUSE) {
			return " (is another server running there? choose another with " + flag + ")"
		}
		return ""
	}
	switch se.Setting {
	case "Listen":
		return fmt.Errorf("listen on %s: %w%s", listen, se.Err, busy("--listen"))
	case "Admin.Listen":
		return fmt.Errorf("admin: %w%s", se.Err, busy("--admin-listen"))
	case "TLSCertFile":
		return fmt.Errorf("tls: --tls-cert, --tls-key: %w", se.Err)
	case "TLSClientCAFile":
		return fmt.Errorf("tls: --tls-client-ca %w", se.Err)
	case "PolicyFile":
		return fmt.Errorf("policies: %w", se.Err)
	case "DataDir":
		return fmt.Errorf("log: %w", se.Err)
	case "Cluster":
		return fmt.Errorf("cluster: %w", se.Err)
	}
	return err
}

func runServe(args []string) error {
	cfg := defaultServeConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "TCP `address` to listen on (HOST:PORT; \":11300\" for every interface)")
	fs.IntVar(&cfg.MaxJobSize, "max-job-size", cfg.MaxJobSize, "largest job body accepted, in `bytes` (beanstalkd's -z); bigger puts get JOB_TOO_BIG")
	config.DurationVar(fs, &cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGTERM or SIGINT, how long connections get to finish their commands before they are closed")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format` on stderr: text or json")
	var more serveFlags
	more.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve serve [flags]

Runs the job server. It speaks beanstalkd's protocol (version 1.12), so
every beanstalkd client works unchanged; docs/protocol.md lists the
commands, the extensions and the few differences.

TLS:
  --tls-cert and --tls-key serve the job port over TLS (1.2 or later)
  instead of plain TCP; --tls-client-ca also requires a client
  certificate signed by one of its CAs (mutual TLS); --tls-ca refuses a
  certificate that does not verify against its CAs. The files are read
  at start, and an expired or not yet valid certificate stops it;
  SIGHUP reloads the certificate and key, keeping the old pair if the
  new one is refused. A handshake must finish within
  --tls-handshake-timeout. Clients: reprieve put/reserve/... --tls
  (docs/protocol.md). Without TLS beyond loopback, a warning is logged.

Connections:
  --max-connections caps the connections served at once (one more gets
  OUT_OF_MEMORY and is closed); --idle-timeout closes connections that
  send nothing for that long (off by default). On Linux plain connections
  are served from one event loop (epoll); --event-loop=false gives each
  connection a goroutine of its own instead.

Signals:
  SIGUSR1          drain mode: put answers DRAINING, everything else works
  SIGHUP           reload the --config policy file and the certificates
                   (--tls-cert/--tls-key, --admin-tls-cert/--admin-tls-key);
                   an invalid file is logged, problem by problem, and the
                   old policies or certificate kept
  SIGTERM, SIGINT  graceful shutdown: stop accepting, let each connection
                   finish the commands it sent (a blocked reserve ends at
                   once), then exit; a second signal exits at once

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q; serve takes flags only", fs.Args())
	}
	if err := loadSettings(fs, "serve", more.policy); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg)
	effective.log(log)
	sc := server.DefaultConfig()
	sc.Listen, sc.MaxJobSize, sc.ShutdownTimeout, sc.Logger = cfg.Listen, cfg.MaxJobSize, cfg.ShutdownTimeout, log
	if err := more.apply(log, &sc); err != nil {
		return err
	}
	return serve(sc, log)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, usagef("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(cfg serveConfig) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve runs the server until a signal stops it: SIGHUP reloads,
// SIGUSR1 drains, SIGTERM and SIGINT shut down (a second one at once).
func serve(cfg server.Config, log *slog.Logger) error {
	// Signals are caught from before the start, so that a SIGHUP sent
	// while the log replays does not end the process; it is served once
	// the server runs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	srv, err := server.New(cfg)
	if err != nil {
		return startError(err, cfg.Listen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	for {
		select {
		case err := <-served:
			// Serve failed on its own: nothing else stops it.
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				if cfg.PolicyFile == "" && cfg.TLSCertFile == "" && cfg.Admin.CertFile == "" {
					log.Info("SIGHUP: no --config file or certificate to reload")
				}
				srv.Reload() // logs what it kept and why
			case syscall.SIGUSR1:
				srv.Drain(true)
				log.Info("drain mode on: put now answers DRAINING", "signal", sig.String())
			default:
				log.Info("shutting down", "signal", sig.String(), "timeout", cfg.ShutdownTimeout)
				return shutdown(srv, served, sigs, cfg.ShutdownTimeout, log)
			}
		}
	}
}

// shutdown stops srv gracefully, or at once on a second signal or when
// timeout passes, and waits for Serve to return.
func shutdown(srv *server.Server, served <-chan error, sigs <-chan os.Signal, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case sig := <-sigs:
			if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				log.Warn("second signal: closing every connection now", "signal", sig.String())
				cancel()
			}
		}
	}
	// A signal that comes before the Serve goroutine has begun makes this
	// Shutdown the first call: Serve then returns ErrServed, and nothing
	// was served. That is the stop asked for, not a failure.
	if serr := <-served; serr != nil && !errors.Is(serr, server.ErrServed) {
		return serr
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		log.Warn("shutdown timed out; connections were closed", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
