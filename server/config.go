package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	jobport "github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
)

// Config configures a Server. Start from DefaultConfig; New applies
// Validate.
type Config struct {
	// Listen is the job port's TCP address, HOST:PORT; port 0 picks a
	// free port (see Server.Addr). Default "127.0.0.1:11300".
	Listen string
	// MaxJobSize is the largest job body accepted, in bytes (beanstalkd's
	// -z); bigger puts get JOB_TOO_BIG. Default 65535, at most 1 GiB.
	MaxJobSize int

	// DataDir is the durable log's directory, created if missing; ""
	// keeps jobs in memory only, as beanstalkd without -b. Default "".
	DataDir string
	// Fsync says when the log fsyncs (docs/wal.md): "always" (answer
	// after the fsync), "interval" or "interval=50ms" (at most every
	// interval), "never". Default "interval".
	Fsync string
	// SegmentSize is the size of a log segment file, in bytes; it must
	// exceed MaxJobSize by an eighth. Default 16 MiB.
	SegmentSize int64

	// PolicyFile is a YAML file of per-tube failure policies
	// (docs/policies.md); "" gives every tube beanstalkd's behaviour.
	PolicyFile string

	// TLSCertFile and TLSKeyFile, both set, serve the job port over TLS
	// (1.2 or later) with this PEM certificate chain and key.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile requires a client certificate signed by one of the
	// CAs of this PEM file (mutual TLS); needs TLSCertFile.
	TLSClientCAFile string
	// TLSCAFile refuses a TLSCertFile, at start and at Reload, that does
	// not verify against the CAs of this PEM file.
	TLSCAFile string
	// TLSHandshakeTimeout closes a TLS connection whose handshake takes
	// longer. Default 10s.
	TLSHandshakeTimeout time.Duration

	// MaxConnections caps the connections served at once; one more is
	// answered OUT_OF_MEMORY and closed. 0: no limit.
	MaxConnections int
	// IdleTimeout closes a connection that sends nothing for this long (a
	// blocked reserve is not idle); on the event loop up to a quarter of
	// it later. 0: never.
	IdleTimeout time.Duration
	// GoroutinePerConnection serves every connection from a goroutine of
	// its own. By default, on Linux, plain connections are served from one
	// event loop on epoll (docs/performance.md, "An event-loop core"), and
	// a connection gets a goroutine only while it must wait (a reserve
	// with no job, a large body, a full socket). The loop is off anyway
	// with TLS, FsyncAlways, cluster mode and off Linux.
	GoroutinePerConnection bool

	// Admin configures the admin HTTP API, /metrics and the dashboard
	// (docs/admin.md); off unless Admin.Listen is set.
	Admin AdminConfig

	// Cluster turns on cluster mode (docs/cluster.md) when Cluster.Name
	// is set: Serve then proxies clients to the cluster's leader until
	// this node leads, restores the engine from the replicated stream, and
	// returns an error wrapping ErrDeposed when the node stops leading.
	Cluster ClusterConfig

	// ShutdownTimeout bounds the graceful shutdown that ends Serve:
	// connections get this long to finish the commands they sent.
	// Default 10s.
	ShutdownTimeout time.Duration
	// Logger receives the server's log; default slog.Default().
	Logger *slog.Logger

	// PaceMemory lets the server pace the process's garbage collector to
	// its live jobs and return memory to the operating system after bursts
	// (docs/performance.md, "Memory"). It changes process-wide settings
	// (debug.SetGCPercent), so a program that tunes its own collector
	// turns it off. Default true.
	PaceMemory bool
}

// AdminConfig configures the admin interface.
type AdminConfig struct {
	// Listen is its TCP address, HOST:PORT (port 0 picks one; see
	// Server.AdminURL); "" turns the interface off.
	Listen string
	// Token, if set, is required as "Authorization: Bearer TOKEN" by the
	// API and /metrics. A Listen beyond loopback needs a Token, or
	// Insecure.
	Token string
	// Insecure allows a non-loopback Listen without a Token.
	Insecure bool
	// MetricsPublic serves /metrics without the Token.
	MetricsPublic bool
	// CertFile and KeyFile, both set, serve HTTPS; CAFile refuses a
	// certificate that does not verify against its CAs.
	CertFile, KeyFile, CAFile string
	// Hosts are names accepted in the Host header besides the address
	// listened on ("*": any), for a reverse proxy's public name.
	Hosts []string
	// Settings, if set, gives what GET /api/v1/config shows: the
	// effective configuration, as a value that encodes to JSON (secrets
	// already hidden). Nil: that endpoint answers 404.
	Settings func() any
}

// MaxJobSizeLimit is the largest MaxJobSize, beanstalkd's own limit (1 GiB).
const MaxJobSizeLimit = 1 << 30

// DefaultConfig returns the defaults: the job port on 127.0.0.1:11300,
// 65535-byte jobs, memory only, fsync "interval", 16 MiB segments, no
// policies, no TLS, no connection limits, no admin interface, a 10 s
// shutdown, slog.Default().
func DefaultConfig() Config {
	return Config{
		Listen:              "127.0.0.1:11300",
		MaxJobSize:          65535,
		Fsync:               "interval",
		SegmentSize:         16 << 20,
		TLSHandshakeTimeout: 10 * time.Second,
		ShutdownTimeout:     10 * time.Second,
		PaceMemory:          true,
		Cluster:             defaultClusterConfig(),
	}
}

// Validate reports the first setting that cannot work, saying how to fix
// it (files are read by New).
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: Listen %q: want HOST:PORT, such as 127.0.0.1:11300 or :0", ErrConfig, c.Listen)
	}
	switch {
	case c.MaxJobSize < 1 || c.MaxJobSize > MaxJobSizeLimit:
		return fmt.Errorf("%w: MaxJobSize %d: want 1 to %d bytes", ErrConfig, c.MaxJobSize, MaxJobSizeLimit)
	case c.ShutdownTimeout <= 0 || c.TLSHandshakeTimeout <= 0:
		return fmt.Errorf("%w: ShutdownTimeout and TLSHandshakeTimeout must be positive (start from DefaultConfig)", ErrConfig)
	case c.MaxConnections < 0 || c.IdleTimeout < 0:
		return fmt.Errorf("%w: MaxConnections and IdleTimeout must not be negative (0 turns them off)", ErrConfig)
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return fmt.Errorf("%w: TLSCertFile and TLSKeyFile go together: give both to serve the job port over TLS, or neither", ErrConfig)
	case c.TLSCertFile == "" && (c.TLSClientCAFile != "" || c.TLSCAFile != ""):
		return fmt.Errorf("%w: TLSClientCAFile and TLSCAFile need TLSCertFile and TLSKeyFile", ErrConfig)
	}
	if c.DataDir != "" && c.Cluster.Name == "" {
		if _, err := c.logOptions(); err != nil {
			return err
		}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	return c.Admin.validate()
}

// logOptions are the durable log's options for DataDir.
func (c Config) logOptions() (wal.Options, error) {
	policy, interval, err := wal.ParseFsync(c.Fsync)
	if err != nil {
		return wal.Options{}, fmt.Errorf("%w: Fsync: %w", ErrConfig, err)
	}
	o := wal.Options{Dir: c.DataDir, Fsync: policy, Interval: interval, SegmentSize: c.SegmentSize}
	if err := o.Validate(); err != nil {
		return wal.Options{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.MaxJobSize > o.MaxJobSize() {
		return wal.Options{}, fmt.Errorf("%w: MaxJobSize %d does not fit log segments of %d bytes (at most %d); raise SegmentSize", ErrConfig, c.MaxJobSize, c.SegmentSize, o.MaxJobSize())
	}
	return o, nil
}

func (a AdminConfig) validate() error {
	if a.Listen == "" {
		if a.Token != "" || a.CertFile != "" || a.KeyFile != "" || a.CAFile != "" || len(a.Hosts) > 0 || a.Insecure || a.MetricsPublic {
			return fmt.Errorf("%w: Admin settings need Admin.Listen: the admin interface is off without it", ErrConfig)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return fmt.Errorf("%w: Admin.Listen %q: want HOST:PORT, such as 127.0.0.1:8080", ErrConfig, a.Listen)
	}
	switch {
	case strings.ContainsAny(a.Token, " \t\r\n"):
		return fmt.Errorf("%w: the admin token must not contain spaces or line breaks", ErrConfig)
	case (a.CertFile == "") != (a.KeyFile == ""):
		return fmt.Errorf("%w: Admin.CertFile and Admin.KeyFile go together", ErrConfig)
	case a.CAFile != "" && a.CertFile == "":
		return fmt.Errorf("%w: Admin.CAFile needs Admin.CertFile and Admin.KeyFile", ErrConfig)
	case slices.ContainsFunc(a.Hosts, func(h string) bool { return h == "" || strings.ContainsAny(h, "/ \t\r\n@") }):
		return fmt.Errorf("%w: Admin.Hosts %q: want host names or addresses such as admin.example.com, without a scheme or a path", ErrConfig, a.Hosts)
	case a.Token == "" && !a.Insecure && !jobport.IsLoopback(a.Listen):
		return fmt.Errorf("%w: Admin.Listen %q is not a loopback address, and without a token anyone who reaches it can delete and kick jobs: "+
			"set Admin.Token, listen on 127.0.0.1, or set Admin.Insecure", ErrConfig, a.Listen)
	}
	return nil
}

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("server: invalid config")
