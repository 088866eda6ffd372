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

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/config"
	"github.com/reprieve/reprieve/internal/server"
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

// servePlugin extends `reprieve serve` from a file of its own (the durable
// log, failure policies): it adds flags, adjusts the broker and server
// configurations before they are built, and may act once the broker
// exists and after the server has stopped.
type servePlugin struct {
	// name identifies the plugin in errors.
	name string
	// flags registers the plugin's flags on fs.
	flags func(fs *flag.FlagSet)
	// configure runs after the flags are parsed and before the broker is
	// built; it may change bc and sc. It returns started, run once the
	// broker exists and before the server listens (nil: nothing), and
	// stop, run after the server and the broker have stopped (nil:
	// nothing).
	configure func(log *slog.Logger, bc *broker.Config, sc *server.Config) (started func(b *broker.Broker) error, stop func() error, err error)
	// serving, if set, runs once the server is built, before it listens;
	// it may keep srv to read its counters (the admin interface).
	serving func(srv *server.Server)
}

// servePlugins is filled by the init functions of the plugins' files.
var servePlugins []servePlugin

func registerServePlugin(p servePlugin) { servePlugins = append(servePlugins, p) }

func runServe(args []string) error {
	cfg := defaultServeConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "TCP `address` to listen on (HOST:PORT; \":11300\" for every interface)")
	fs.IntVar(&cfg.MaxJobSize, "max-job-size", cfg.MaxJobSize, "largest job body accepted, in `bytes` (beanstalkd's -z); bigger puts get JOB_TOO_BIG")
	config.DurationVar(fs, &cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGTERM or SIGINT, how long connections get to finish their commands before they are closed")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format` on stderr: text or json")
	for _, p := range servePlugins {
		p.flags(fs)
	}
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
  send nothing for that long (off by default).

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
	if err := loadSettings(fs, "serve", fs.Lookup("config").Value.String()); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return serve(cfg)
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

// serve runs the server until a signal stops it.
func serve(cfg serveConfig) (err error) {
	log := newLogger(cfg)
	effective.log(log)
	bc := broker.Config{MaxJobSize: cfg.MaxJobSize, Logger: log}
	sc := server.Config{MaxJobSize: cfg.MaxJobSize, Logger: log}

	var starts []func(*broker.Broker) error
	var stops []func() error
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if serr := stops[i](); serr != nil && err == nil {
				err = serr
			}
		}
	}()
	for _, p := range servePlugins {
		started, stop, perr := p.configure(log, &bc, &sc)
		if perr != nil {
			return fmt.Errorf("%s: %w", p.name, perr)
		}
		if started != nil {
			starts = append(starts, started)
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}

	b := broker.New(bc)
	defer b.Close()
	for _, start := range starts {
		if err := start(b); err != nil {
			return err
		}
	}
	sc.Broker = b
	srv, err := server.New(sc)
	if err != nil {
		return err
	}
	for _, p := range servePlugins {
		if p.serving != nil {
			p.serving(srv)
		}
	}
	// Signals are caught before the port opens: a SIGTERM that follows a
	// successful connect (a service manager's quick stop) shuts down
	// gracefully rather than killing the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? choose another with --listen)", cfg.Listen, err)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "max_job_size", cfg.MaxJobSize, "version", server.Version, "pid", os.Getpid())

	for {
		select {
		case err := <-served:
			// Serve failed on its own: nothing else stops it.
			_ = srv.Close()
			return fmt.Errorf("serve: %w", err)
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				srv.SetDraining(true)
				log.Info("drain mode on: put now answers DRAINING", "signal", sig.String())
				continue
			}
			log.Info("shutting down", "signal", sig.String(), "timeout", cfg.ShutdownTimeout)
			return shutdown(srv, served, sigs, cfg.ShutdownTimeout, log)
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
	select {
	case err = <-done:
	case sig := <-sigs:
		log.Warn("second signal: closing every connection now", "signal", sig.String())
		cancel()
		err = <-done
	}
	if serr := <-served; !errors.Is(serr, server.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serr)
	}
	if err != nil {
		log.Warn("shutdown timed out; connections were closed", "err", err)
		return nil
	}
	log.Info("stopped")
	return nil
}
