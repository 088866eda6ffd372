package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/reprieve/reprieve/internal/wal"
)

func init() {
	register("repair", "salvage the readable records of a damaged data directory", runRepair)
}

// runRepair is `reprieve repair --data DIR [--dry-run]`: it rewrites every
// damaged segment with its readable records, keeping the originals, and
// prints what it dropped. The server must be stopped (the directory lock
// says so otherwise).
func runRepair(args []string) error {
	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	data := fs.String("data", "./reprieve-data", "the data directory to repair")
	dry := fs.Bool("dry-run", false, "report the damage without changing anything")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: reprieve repair [--data DIR] [--dry-run]

Salvages a data directory that 'reprieve serve' refused to start from
because a log segment is damaged or missing. Every readable record is
kept; each damaged segment is copied to DIR/repair-<time>/ and rewritten
with its readable records only; a sealed segment without records is moved
there; a missing one is recorded as dropped. The report lists the byte
ranges dropped and the job ids readable in them, the missing segments,
and where the originals are kept (with --dry-run: would be kept). Dropped
records may have held puts (those jobs are lost), updates (an older state
of the job comes back) or deletes (a deleted job comes back). Stop the
server first. Exit status 0 when the directory can now be served.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *data == "" {
		return usagef("--data must name a directory")
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	rep, err := wal.Repair(*data, *dry)
	if err != nil {
		return err
	}
	fmt.Print(rep.String())
	if *dry && (len(rep.Damaged) > 0 || len(rep.Missing) > 0) {
		fmt.Println("dry run: nothing changed; run again without --dry-run to repair")
	}
	return nil
}
