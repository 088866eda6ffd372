package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/policy"
)

func init() {
	register("policies", "check a failure-policy file and show which policy each tube gets", func(args []string) error {
		return runPolicies(os.Stdout, args)
	})
}

const policiesUsage = `Usage: reprieve policies [--schedule] FILE [TUBE...]

Checks FILE, the failure-policy file of reprieve serve --config
(docs/policies.md). An invalid file prints one line per problem, as
"FILE:LINE: KEY: what is wrong; how to fix it", and exits with status 1.
A valid one prints each entry with its policy in one line, then each
schedule (periodic job) with its next run from now; with TUBE
arguments, it prints instead which entry each tube matches (exact name,
pattern, default, or none). --schedule adds the retry table of each
policy shown.

Flags:
`

func runPolicies(out io.Writer, args []string) error {
	fs := flag.NewFlagSet("policies", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	schedule := fs.Bool("schedule", false, "print the retry schedule of each policy shown")
	fs.Usage = func() {
		fmt.Fprint(out, policiesUsage)
		fs.SetOutput(out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v (see reprieve policies --help)", err)
	}
	if fs.NArg() < 1 {
		return usagef("missing FILE (see reprieve policies --help)")
	}
	path := fs.Arg(0)
	set, err := policy.Load(path)
	if err != nil {
		return err
	}
	show := func(label string, p *policy.Policy) {
		fmt.Fprintf(out, "%s: %s\n", label, p)
		if *schedule && p != nil && p.Retry != nil {
			var b strings.Builder
			_ = p.Retry.WritePlan(&b)
			for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				fmt.Fprintf(out, "    %s\n", l)
			}
		}
	}
	if tubes := fs.Args()[1:]; len(tubes) > 0 {
		for _, t := range tubes {
			p, entry := set.Match(t)
			switch entry {
			case "":
				show(fmt.Sprintf("tube %s (no entry)", t), nil)
			case t:
				show(fmt.Sprintf("tube %s (its own entry)", t), p)
			case "default":
				show(fmt.Sprintf("tube %s (default)", t), p)
			default:
				show(fmt.Sprintf("tube %s (pattern %s)", t, entry), p)
			}
		}
		return nil
	}
	def := "no default: other tubes behave like beanstalkd"
	if set.Default() != nil {
		def = "a default"
	}
	fmt.Fprintf(out, "%s: valid, %d entries, %s\n", path, set.Len(), def)
	for _, name := range set.Entries() {
		show(name, set.Lookup(name))
	}
	if d := set.Default(); d != nil {
		show("default", d)
	}
	now := time.Now()
	for _, s := range set.Schedules() {
		fmt.Fprintf(out, "schedule %s; next run %s\n", s, s.Next(now).In(s.Location).Format(time.RFC3339))
	}
	return nil
}
