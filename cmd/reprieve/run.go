package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/config"
	"github.com/reprieve/reprieve/internal/pipeline"
	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

func init() {
	register("run", "run a pipeline bootstrap file (modules and a routing table)", runRun)
}

func runRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	debug := fs.Bool("debug", false, "log at debug level and print every module's queue counters periodically")
	every, drain := new(time.Duration), new(time.Duration)
	config.DurationVar(fs, every, "stats-interval", 10*time.Second, "how often --debug prints the counters")
	config.DurationVar(fs, drain, "drain-timeout", 10*time.Second, "on shutdown, how long to wait for in-memory queues to empty")
	settingsFile := fs.String("config", "", "read flags not given on the command line from the run: section of this YAML `file` (after REPRIEVE_* variables; docs/cli.md)")
	var af adminFlags
	af.register(fs, "the pipeline's /metrics, /api/v1/pipeline, /healthz and /readyz (docs/pipelines.md)", "read the pipeline's counters")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve run [flags] FILE

Runs the pipeline described by FILE (see docs/pipelines.md; 'reprieve
modules' lists the module kinds). The file is validated first, as by
'reprieve check'. SIGINT or SIGTERM stops the inputs, drains in-memory
queues (so failed messages still reach durable modules), flushes buffers and
logs any message left undelivered. The exit status is 1 if a module exceeded
its restart intensity.

--admin-listen serves the pipeline's counters as Prometheus metrics
(/metrics) and JSON (/api/v1/pipeline), with /healthz and /readyz (503
once a shutdown has begun), under the same token and TLS rules as
'reprieve serve' (docs/admin.md). It answers until the pipeline has
drained, then stops.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	if err := loadSettings(fs, "run", *settingsFile); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	effective.log(log)
	cfg, warns, err := pipeline.LoadFile(fs.Arg(0))
	for _, w := range warns {
		log.Warn(w.String())
	}
	if err != nil {
		return checkError(err)
	}
	p, err := pipeline.New(cfg, pipeline.Options{Clock: clock.Real(), Log: log, DrainTimeout: *drain})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if af.listen != "" {
		srv, err := startRunAdmin(log, &af, fs.Arg(0), p, func() bool { return ctx.Err() != nil })
		if err != nil {
			return err
		}
		// Deferred so that it runs after Run has drained the queues: the
		// counters stay readable, and /readyz says "stopping", until then.
		defer stopAdmin(log, srv)
	}
	if *debug {
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					fmt.Fprintf(os.Stderr, "--- %s\n", time.Now().Format(time.RFC3339))
					pipeline.WriteStats(os.Stderr, p.Stats())
				case <-done:
					return
				}
			}
		}()
	}
	err = p.Run(ctx)
	if *debug {
		pipeline.WriteStats(os.Stderr, p.Stats())
	}
	return err
}

// startRunAdmin binds --admin-listen and serves p's admin interface;
// stopping reports that the shutdown has begun. The caller stops the
// server with stopAdmin.
func startRunAdmin(log *slog.Logger, af *adminFlags, file string, p *pipeline.Pipeline, stopping func() bool) (*boundAdmin, error) {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	h, err := admin.NewPipelineHandler(admin.PipelineConfig{
		Stats: p.Stats, File: file, Stopping: stopping, Settings: func() any { return effective.shown() }, Token: af.token, MetricsPublic: af.metricsPublic,
	})
	if err != nil {
		return nil, err
	}
	srv, err := af.bind(log)
	if err != nil {
		return nil, err
	}
	srv.Start(h)
	log.Info("admin interface", "url", srv.URL(), "token", af.token != "", "metrics_public", af.metricsPublic)
	return srv, nil
}
