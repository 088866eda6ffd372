package main

// This file holds the admin part of reprieve serve: the --admin-* flags,
// binding the admin address before the log replays, serving the HTTP API,
// metrics and dashboard once the server exists, and stopping it last.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	a := &adminFlags{}
	registerServePlugin(servePlugin{
		name:      "admin",
		flags:     a.register,
		configure: a.configure,
		serving:   a.serving,
	})
}

// adminShutdownTimeout bounds how long admin requests in progress get to
// finish when the server stops.
const adminShutdownTimeout = 5 * time.Second

// adminFlags are serve's --admin-* flags and the admin server they start.
type adminFlags struct {
	listen, token, tokenFile string
	certFile, keyFile        string
	insecure, metricsPublic  bool

	log *slog.Logger
	sc  *server.Config
	srv *admin.Server
}

// register adds the --admin-* flags to fs.
func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.listen, "admin-listen", "", "serve the admin HTTP API, /metrics and the dashboard on this `address` (HOST:PORT, such as 127.0.0.1:8080; docs/admin.md); off by default")
	fs.StringVar(&a.token, "admin-token", "", "require `TOKEN` as \"Authorization: Bearer TOKEN\" on the admin API and /metrics (visible in ps: prefer --admin-token-file)")
	fs.StringVar(&a.tokenFile, "admin-token-file", "", "read the admin token from `file` (surrounding white space ignored)")
	fs.StringVar(&a.certFile, "admin-tls-cert", "", "serve the admin interface over HTTPS with this PEM certificate `file` (needs --admin-tls-key)")
	fs.StringVar(&a.keyFile, "admin-tls-key", "", "the PEM private key `file` of --admin-tls-cert")
	fs.BoolVar(&a.insecure, "admin-insecure", false, "allow --admin-listen on a non-loopback address without a token")
	fs.BoolVar(&a.metricsPublic, "admin-metrics-public", false, "serve /metrics without the admin token (for a Prometheus without credentials)")
}

// validate checks the flags together and reads the token file.
func (a *adminFlags) validate() error {
	if a.listen == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"--admin-token", a.token != ""}, {"--admin-token-file", a.tokenFile != ""},
			{"--admin-tls-cert", a.certFile != ""}, {"--admin-tls-key", a.keyFile != ""},
			{"--admin-insecure", a.insecure}, {"--admin-metrics-public", a.metricsPublic},
		} {
			if f.set {
				return usagef("%s needs --admin-listen: the admin interface is off without it", f.name)
			}
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(a.listen); err != nil {
		return usagef("--admin-listen %q: want HOST:PORT, such as 127.0.0.1:8080", a.listen)
	}
	if a.token != "" && a.tokenFile != "" {
		return usagef("--admin-token and --admin-token-file both given: use one")
	}
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return usagef("--admin-token-file: %v", err)
		}
		a.token = strings.TrimSpace(string(b))
		if a.token == "" {
			return usagef("--admin-token-file %s is empty: write the token in it", a.tokenFile)
		}
	}
	if strings.ContainsAny(a.token, " \t\r\n") {
		return usagef("the admin token must not contain spaces or line breaks")
	}
	if (a.certFile == "") != (a.keyFile == "") {
		return usagef("--admin-tls-cert and --admin-tls-key go together: give both for HTTPS, or neither for HTTP")
	}
	if a.token == "" && !a.insecure && !admin.IsLoopback(a.listen) {
		return usagef("--admin-listen %q is not a loopback address, and without a token anyone who reaches it can delete and kick jobs: "+
			"set --admin-token or --admin-token-file, listen on 127.0.0.1, or add --admin-insecure to serve it without a token anyway", a.listen)
	}
	return nil
}

// configure checks the flags and binds the admin address before the log
// replays, so that a mistake or a busy port stops the start at once.
func (a *adminFlags) configure(log *slog.Logger, _ *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	if err := a.validate(); err != nil {
		return nil, nil, err
	}
	if a.listen == "" {
		return nil, nil, nil
	}
	a.log, a.sc = log, sc
	srv, err := admin.Listen(admin.ListenConfig{Addr: a.listen, CertFile: a.certFile, KeyFile: a.keyFile, Logger: log})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, nil, fmt.Errorf("%w (is another server running there? choose another with --admin-listen)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	a.srv = srv
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
		defer cancel()
		err := a.srv.Shutdown(ctx)
		if err != nil {
			log.Warn("admin interface: shutdown timed out; its requests were cut off", "err", err)
		}
		return nil
	}
	return nil, stop, nil
}

// serving builds the admin handler over the server and starts serving it.
func (a *adminFlags) serving(srv *server.Server) {
	if a.srv == nil {
		return
	}
	h, err := admin.New(admin.Config{
		Broker:        srv.Broker(),
		Stats:         srv.Stats,
		Stopping:      srv.Stopping,
		Commands:      srv.Count,
		Binlog:        a.sc.Binlog,
		ExtraStats:    a.sc.ExtraStats,
		MaxJobSize:    a.sc.MaxJobSize,
		Version:       a.sc.Version,
		Token:         a.token,
		MetricsPublic: a.metricsPublic,
		Logger:        a.log,
	})
	if err != nil {
		a.log.Error("admin interface not started", "err", err)
		return
	}
	a.srv.Start(h)
	a.log.Info("admin interface", "url", a.srv.URL(), "token", a.token != "", "metrics_public", a.metricsPublic)
}
