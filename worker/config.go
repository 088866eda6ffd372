package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/clock"
)

// Config configures a Worker. The zero value of each field but the
// servers (Addrs or Pool) means its default.
type Config struct {
	// Addrs are the servers to take jobs from, host:port each; the worker
	// makes a client.Pool of them (one server is a pool of one), routes
	// around a dead one and closes the pool when Run returns.
	Addrs []string
	// Pool, instead of Addrs, is a pool of the caller's, which the worker
	// uses and does not close. Give it MaxIdleReservers of at least the
	// sum of the tubes' Concurrency, else connections are re-dialed.
	Pool *client.Pool
	// Dial opens the connections of the worker's own pool (for TLS:
	// client.TLSDialer); default client.Dial.
	Dial func(ctx context.Context, addr string) (*client.Conn, error)

	// Logger receives what the worker did with each job that did not
	// succeed, and trouble with the servers; default slog.Default().
	Logger *slog.Logger
	// Middleware wraps every handler, the first outermost (see Logging).
	Middleware []Middleware

	// ShutdownTimeout is how long running handlers may go on after Run's
	// context ends before their contexts are cancelled and their jobs
	// released. Default 30s.
	ShutdownTimeout time.Duration

	// MaxAttempts and Backoff are the worker's own schedule for a server
	// without failure policies (a plain beanstalkd): a failed job is
	// released with delay Backoff(attempt), and buried instead once it
	// has had MaxAttempts attempts. Default 10 attempts, and a delay of
	// 10s doubling per attempt up to 1h (DefaultBackoff). Reprieve's own
	// schedule is the tube's policy, on the server.
	MaxAttempts int
	Backoff     func(attempt int) time.Duration

	// clock times TTR budgets, heartbeats, DEADLINE_SOON waits, idle
	// backoff, the shutdown timeout and the worker's own pool; the wall
	// clock unless the package's tests set a fake one.
	clock clock.Clock
}

// DefaultBackoff is the default Config.Backoff: 10s after the first
// attempt, doubling per attempt, at most an hour.
func DefaultBackoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.clock == nil {
		cfg.clock = clock.Real()
	}
	return cfg
}

// Validate reports the first field that makes no sense.
func (cfg Config) Validate() error {
	switch {
	case cfg.Pool == nil && len(cfg.Addrs) == 0:
		return errors.New("worker: config: give Addrs (host:port of each server) or a Pool")
	case cfg.Pool != nil && len(cfg.Addrs) > 0:
		return errors.New("worker: config: give Addrs or a Pool, not both")
	case cfg.ShutdownTimeout < 0:
		return fmt.Errorf("worker: config: ShutdownTimeout %v is negative", cfg.ShutdownTimeout)
	case cfg.MaxAttempts < 0:
		return fmt.Errorf("worker: config: MaxAttempts %d is negative", cfg.MaxAttempts)
	}
	if cfg.Pool == nil {
		if err := (client.PoolConfig{Addrs: cfg.Addrs}).Validate(); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	return nil
}
