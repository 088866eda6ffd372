package main

// This file holds the admin part of reprieve serve: the --admin-* flags
// (admin_flags.go, shared with run), binding the admin address before the
// log replays, serving the HTTP API, metrics and dashboard once the server
// exists, and stopping it last.

import (
	"flag"
	"log/slog"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	a := &serveAdmin{}
	registerServePlugin(servePlugin{
		name: "admin",
		flags: func(fs *flag.FlagSet) {
			a.register(fs, "the admin HTTP API, /metrics and the dashboard (docs/admin.md)", "delete and kick jobs")
		},
		configure: a.configure,
		serving:   a.serving,
	})
}

// serveAdmin is serve's admin interface: its flags and the server they start.
type serveAdmin struct {
	adminFlags

	log     *slog.Logger
	sc      *server.Config
	srv     *boundAdmin
	timings *admin.Timings // the broker's Observer, served by /metrics
}

// configure checks the flags and binds the admin address before the log
// replays, so that a mistake or a busy port stops the start at once.
func (a *serveAdmin) configure(log *slog.Logger, bc *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	if err := a.validate(); err != nil {
		return nil, nil, err
	}
	if a.listen == "" {
		return nil, nil, nil
	}
	a.log, a.sc = log, sc
	a.timings = admin.NewTimings()
	bc.Observer = a.timings
	srv, err := a.bind(log)
	if err != nil {
		return nil, nil, err
	}
	a.srv = srv
	stop := func() error {
		stopAdmin(log, a.srv)
		return nil
	}
	return nil, stop, nil
}

// serving builds the admin handler over the server and starts serving it.
func (a *serveAdmin) serving(srv *server.Server) {
	if a.srv == nil {
		return
	}
	h, err := admin.New(admin.Config{
		Broker:        srv.Broker(),
		Stats:         srv.Stats,
		Stopping:      srv.Stopping,
		Commands:      srv.Count,
		Refused:       srv.Refused,
		Binlog:        a.sc.Binlog,
		ExtraStats:    a.sc.ExtraStats,
		MaxJobSize:    a.sc.MaxJobSize,
		Version:       a.sc.Version,
		Timings:       a.timings,
		Settings:      func() any { return effective.shown() },
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
