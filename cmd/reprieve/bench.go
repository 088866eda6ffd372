package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/reprieve/reprieve/internal/bench"
	"github.com/reprieve/reprieve/internal/config"
)

func init() {
	register("bench", "load generator for any beanstalkd-protocol server (throughput, latency, A/B)", runBench)
}

func runBench(args []string) error { return benchMain(args, os.Stdout, os.Stderr) }

// benchMain is `reprieve bench` writing its results to stdout and its
// progress and per-round lines to stderr.
func benchMain(args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workload := fs.String("workload", string(cfg.Workload), "put, reserve-delete, put-reserve-delete or release-churn")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "server `host:port` (A)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections (put-reserve-delete: producers, and as many workers)")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "requests in flight per connection")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "job body size in `bytes`")
	fs.IntVar(&cfg.Tubes, "tubes", cfg.Tubes, "tubes held by the server; connection i works on tube i mod N, the others get one job each")
	fs.StringVar(&cfg.TubePrefix, "tube-prefix", cfg.TubePrefix, "tubes are named PREFIX-0, PREFIX-1, …")
	config.DurationVar(fs, &cfg.Duration, "duration", cfg.Duration, "run for this long (ignored with --count)")
	fs.Int64Var(&cfg.Count, "count", 0, "run until this many operations are done, instead of --duration")
	fs.IntVar(&cfg.Prefill, "prefill", 0, "jobs put before reserve-delete/release-churn (0: --count, 200000, or max(1000, 2×conns×pipeline) for release-churn)")
	fs.IntVar(&cfg.Rate, "rate", 0, "put and put-reserve-delete: pace puts to this many per second in total (0: as fast as the server takes them)")
	fs.BoolVar(&cfg.NoPrefill, "no-prefill", false, "reserve-delete/release-churn: take the jobs already in the tubes (e.g. from put --keep)")
	config.DurationVar(fs, &cfg.Delay, "delay", 0, "release-churn: delay of each release (whole seconds)")
	fs.BoolVar(&cfg.Kick, "kick", false, "release-churn: when every job is delayed, kick them back instead of waiting (with a long --delay: beanstalkd issue #622's workload)")
	fs.IntVar(&cfg.Bury, "bury", 0, "put and bury this many jobs in the first tube before the run (left buried)")
	pri := fs.Uint("pri", uint(cfg.Priority), "priority of every job")
	config.DurationVar(fs, &cfg.TTR, "ttr", cfg.TTR, "time to run of every job (whole seconds)")
	fs.BoolVar(&cfg.EventLoop, "event-loop", false, "put (without --rate) and reserve-delete: drive every connection from one epoll loop on one thread instead of a goroutine each (Linux, plain TCP): less of the machine's CPU goes to the generator")
	fs.BoolVar(&cfg.Keep, "keep", false, "leave the run's jobs on the server (default: delete the ready and delayed ones, untimed)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	progress := fs.Bool("progress", false, "print a progress line on stderr every second even when stderr is not a terminal")
	compare := fs.String("compare", "", "also run against this `host:port` (B), alternating A B A B, and print A/B ratios")
	rounds := fs.Int("rounds", 3, "rounds of --compare")
	var labels bench.Labels
	fs.StringVar(&labels.A, "label-a", "", "name of A in the --compare table (default: what its stats say, such as \"reprieve 0.1.0, log fsync interval\")")
	fs.StringVar(&labels.B, "label-b", "", "name of B in the --compare table (default: what its stats say, such as \"beanstalkd 1.12, binlog\")")
	var tf tlsFlags
	tf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve bench [flags]

Drives any beanstalkd-protocol server (Reprieve, beanstalkd) and prints
throughput and latency percentiles (p50, p90, p99, p99.9, max).

Workloads (one operation is):
  put                 a put (latency: put → INSERTED)
  reserve-delete      a reserve+delete pair on tubes filled first (latency:
                      reserve sent → DELETED); stops early when they are empty
  put-reserve-delete  a job put by one of --conns producers and reserved and
                      deleted by one of --conns workers, at once (latency:
                      put sent → RESERVED read, and put → INSERTED); without
                      --rate the producers outrun the workers and put → reserve
                      is the time jobs wait in the backlog
  release-churn       a reserve+release pair over a fixed set of jobs
                      (--prefill), released with --delay (latency: reserve
                      sent → RELEASED)

Requests are pipelined (--pipeline per connection). Before a run the tubes
are prepared (not measured); after it, unless --keep, the ready and delayed
jobs left in them are deleted (not measured). With --compare the same run is
made against --addr (A) and --compare (B) in turns for --rounds rounds; the
ratio A/B (above 1: A is faster) is printed per round with its median. The
table names each server and its durability, from its stats (beanstalkd's
do not tell its -f: give --label-b "beanstalkd -b -f 0" to say it).

With --rate, each put's latency is measured from the time the schedule
said to send it, not from when it was sent: a put held back by a stall
counts the time it waited (no coordinated omission). The output says so.

With --tls (or any --tls-* flag) every connection, to A and to B, is TLS
(reprieve serve --tls-cert, or beanstalkd behind a TLS proxy).

A progress line is drawn on stderr when it is a terminal (or with --progress).
The --json fields are described in docs/performance.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	cfg.Workload = bench.Workload(*workload)
	tlsConfig, err := tf.config()
	if err != nil {
		return err
	}
	cfg.TLS = tlsConfig
	if *pri > 1<<32-1 {
		return usagef("--pri %d is above 4294967295", *pri)
	}
	cfg.Priority = uint32(*pri)
	if cfg.Count > 0 {
		cfg.Duration = 0
	}
	errTerm := false
	if f, ok := stderr.(*os.File); ok {
		errTerm = isTerminal(f)
	}
	if errTerm || *progress {
		cfg.Progress = stderr
		cfg.ProgressInPlace = errTerm
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *compare == "" {
		res, err := bench.Run(ctx, cfg)
		if res != nil {
			if perr := printResult(stdout, res, *asJSON); perr != nil {
				return perr
			}
		}
		return err
	}
	each := func(round int, r *bench.Result) {
		if !*asJSON {
			fmt.Fprintf(stderr, "round %d %s: %.0f ops/s, p99 %.3f ms\n", round, r.Addr, r.OpsPerSec, r.P99()/1000)
		}
	}
	cmp, err := bench.Compare(ctx, cfg, *compare, *rounds, labels, each)
	if err != nil {
		if errors.Is(err, bench.ErrConfig) {
			return usagef("%v", err)
		}
		return err
	}
	if *asJSON {
		return writeJSON(stdout, cmp)
	}
	return cmp.WriteText(stdout)
}

func printResult(out io.Writer, res *bench.Result, asJSON bool) error {
	if asJSON {
		return writeJSON(out, res)
	}
	return res.WriteText(out)
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
