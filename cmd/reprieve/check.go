package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/reprieve/reprieve/internal/pipeline"
	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

func init() {
	register("check", "validate a pipeline bootstrap file", runCheck)
}

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve check FILE

Validates a pipeline bootstrap file without running it: unknown module kinds,
unknown or bad arguments, unknown queues, queues connected twice. Every
problem is printed as FILE:LINE: message. A module whose failed queue is not
connected gets a warning. Exit status: 0 valid, 1 invalid, 2 usage.
`)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	cfg, warns, err := pipeline.LoadFile(fs.Arg(0))
	for _, w := range warns {
		fmt.Fprintln(os.Stderr, w)
	}
	if err != nil {
		return checkError(err)
	}
	fmt.Printf("%s: ok (%d modules, %d routes, %d warnings)\n", fs.Arg(0), len(cfg.Modules), len(cfg.Routes), len(warns))
	return nil
}

// checkError prints an invalid file's diagnostics and returns a short error.
func checkError(err error) error {
	var inv *pipeline.InvalidError
	if errors.As(err, &inv) {
		for _, d := range inv.Diags {
			fmt.Fprintln(os.Stderr, d)
		}
		noun := "errors"
		if len(inv.Diags) == 1 {
			noun = "error"
		}
		return fmt.Errorf("%d %s in %s", len(inv.Diags), noun, inv.Diags[0].File)
	}
	return err
}
