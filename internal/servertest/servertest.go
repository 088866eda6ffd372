// Package servertest starts servers for tests, as net/http/httptest does:
// a Reprieve server in-process on 127.0.0.1:0, or a real beanstalkd on a
// free loopback port. Both are stopped by t.Cleanup.
package servertest

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

// Server is a running in-process Reprieve server.
type Server struct {
	// Addr is the address it listens on, "127.0.0.1:port".
	Addr   string
	Broker *broker.Broker
	Server *server.Server
}

// Options configure Start; the zero value is an in-memory server with
// beanstalkd's defaults and the real clock.
type Options struct {
	// Broker configures the engine (its clock, journal, policies, max job
	// size).
	Broker broker.Config
	// Server configures the server; its Broker field is filled in.
	Server server.Config
	// TLS, if set, serves the port over TLS with this configuration.
	TLS *tls.Config
}

// Start starts a Reprieve server on 127.0.0.1:0 with opts (nil for the
// defaults). t.Cleanup shuts it down and closes its broker.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	b := broker.New(opts.Broker)
	cfg := opts.Server
	cfg.Broker = b
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	addr := ln.Addr().String()
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("servertest: serve: %v", err)
		}
		b.Close()
	})
	return &Server{Addr: addr, Broker: b, Server: srv}
}
