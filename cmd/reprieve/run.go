package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

func init() {
	register("run", "run a pipeline bootstrap file (modules and a routing table)", runRun)
}

func runRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	debug := fs.Bool("debug", false, "log at debug level and print every module's queue counters periodically")
	every := fs.Duration("stats-interval", 10*time.Second, "how often --debug prints the counters")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on shutdown, how long to wait for in-memory queues to empty")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve run [flags] FILE

Runs the pipeline described by FILE (see docs/pipelines.md; 'reprieve
modules' lists the module kinds). The file is validated first, as by
'reprieve check'. SIGINT or SIGTERM stops the inputs, drains in-memory
queues (so failed messages still reach durable modules), flushes buffers and
logs any message left undelivered. The exit status is 1 if a module exceeded
its restart intensity.

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
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
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
