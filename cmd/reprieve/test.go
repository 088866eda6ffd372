package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/reprieve/reprieve/internal/pipeline/pipetest"
)

func init() {
	register("test", "run the unit tests of pipeline files (cases that feed messages and assert queues)", runTest)
}

func runTest(args []string) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print the pipelines' logs (at debug level) while the cases run")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve test [flags] PATH...

Runs the unit tests of pipeline bootstrap files. PATH is a test file
(NAME_test.yaml, naming its pipeline with "pipeline:"), a pipeline file
(its tests are read from NAME_test.yaml beside it), or a directory (every
*_test.yaml in it). Each case builds the pipeline afresh with its inputs
fed only by the case and its outputs replaced (they accept every message,
or fail it as the case says), so no network is needed; directories go to
a temporary one. It feeds the case's messages into one queue, waits until
the pipeline has finished with them and compares the messages that passed
each expected queue, printing a diff for each one that differs. The format
is in docs/pipelines.md ("Testing a pipeline").

Exit status: 0 if every case passed, 1 if one failed, 2 for usage.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("give at least one PATH (see reprieve test --help)")
	}
	var files []string
	for _, a := range fs.Args() {
		f, err := testFiles(a)
		if err != nil {
			return err
		}
		files = append(files, f...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var log *slog.Logger
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	failed, total, err := runTestFiles(ctx, os.Stdout, files, log)
	if err != nil {
		return err
	}
	fmt.Printf("%d %s: %d passed, %d failed\n", total, pluralS(total, "case"), total-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d %s failed", failed, total, pluralS(total, "case"))
	}
	return nil
}

func pluralS(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// testFiles returns the test files PATH stands for.
func testFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		files, err := filepath.Glob(filepath.Join(path, "*_test.yaml"))
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("no *_test.yaml file in %s", path)
		}
		return files, err
	}
	if strings.HasSuffix(path, "_test.yaml") {
		return []string{path}, nil
	}
	t := strings.TrimSuffix(path, filepath.Ext(path)) + "_test.yaml"
	if _, err := os.Stat(t); err != nil {
		return nil, fmt.Errorf("%s has no tests: write them in %s (see reprieve test --help)", path, t)
	}
	return []string{t}, nil
}

// runTestFiles runs each file's cases and prints a line per case, with the
// diff or the error of each that failed.
func runTestFiles(ctx context.Context, w io.Writer, files []string, log *slog.Logger) (failed, total int, err error) {
	for _, f := range files {
		s, err := pipetest.Load(f)
		if err != nil {
			return failed, total, err
		}
		results, err := pipetest.Run(ctx, s, log)
		if err != nil {
			return failed, total, checkError(err)
		}
		fmt.Fprintf(w, "%s (%s)\n", f, s.Pipeline)
		for _, r := range results {
			total++
			if r.Passed() {
				fmt.Fprintf(w, "  PASS  %s\n", r.Case.Name)
				continue
			}
			failed++
			fmt.Fprintf(w, "  FAIL  %s (%s:%d)\n", r.Case.Name, f, r.Case.Line())
			text := r.Diff
			if r.Err != nil {
				text = r.Err.Error() + "\n"
			}
			for _, l := range strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n") {
				fmt.Fprintf(w, "        %s", l)
			}
			fmt.Fprintln(w)
		}
	}
	return failed, total, nil
}
