// Command reprieve is the job server, its command-line client, the pipeline
// runner and the load generator. This file only dispatches subcommands; each
// lives in a file named for it and the logic lives under internal/.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: run receives the arguments after its name and
// returns an error to print (the exit status is then 1, 2 for usage, or 3
// when some servers of several failed: see partialError).
type command struct {
	summary string
	run     func(args []string) error
}

// commands is filled by the init functions of the files beside this one.
var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("reprieve: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "Usage: reprieve COMMAND [flags] [args]\n\nCommands:\n")
	fmt.Fprintf(os.Stderr, "  %-20s %s\n", "--version", "print the version (as the version command)")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-20s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'reprieve COMMAND --help' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	name := os.Args[1]
	if name == "--version" || name == "-version" || name == "-v" {
		printVersion(os.Stdout)
		return
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "reprieve: unknown command %q\n\n", name)
		usage()
		os.Exit(2)
	}
	err := cmd.run(os.Args[2:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case isUsage(err):
		fmt.Fprintf(os.Stderr, "reprieve %s: %v\n", name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "reprieve %s: %s\n", name, strings.TrimPrefix(err.Error(), name+": "))
		if isPartial(err) {
			os.Exit(exitPartial)
		}
		os.Exit(1)
	}
}

// usageError marks an error in the command line itself (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}
