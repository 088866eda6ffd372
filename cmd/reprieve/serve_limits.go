package main

// This file holds the connection limits of serve's job port: the
// --max-connections and --idle-timeout flags. internal/server enforces
// them; this file only checks and passes them on.

import (
	"flag"
	"log/slog"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	l := &serveLimits{}
	registerServePlugin(servePlugin{
		name:      "limits",
		flags:     l.register,
		configure: l.configure,
	})
}

// serveLimits are the job port's connection limits.
type serveLimits struct {
	maxConnections int
	idleTimeout    time.Duration
}

func (l *serveLimits) register(fs *flag.FlagSet) {
	fs.IntVar(&l.maxConnections, "max-connections", 0, "serve at most this `many` connections at once; one more is answered OUT_OF_MEMORY and closed (0: no limit)")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", 0, "close a connection that sends nothing for this `duration` (a blocked reserve is not idle; 0: never)")
}

func (l *serveLimits) configure(_ *slog.Logger, _ *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	if l.maxConnections < 0 {
		return nil, nil, usagef("--max-connections %d: want 0 (no limit) or more", l.maxConnections)
	}
	if l.idleTimeout < 0 {
		return nil, nil, usagef("--idle-timeout %v: want 0 (off) or a positive duration such as 10m", l.idleTimeout)
	}
	sc.MaxConnections, sc.IdleTimeout = l.maxConnections, l.idleTimeout
	return nil, nil, nil
}
