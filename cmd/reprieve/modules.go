package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/reprieve/reprieve/internal/pipeline"
	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

func init() {
	register("modules", "list the pipeline module kinds with their queues and arguments", runModules)
}

func runModules(args []string) error {
	fs := flag.NewFlagSet("modules", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: reprieve modules [KIND...]\n\nLists every built-in module kind (or the named ones) with its queues and\narguments (type, default, meaning).\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	kinds := pipeline.Kinds()
	if fs.NArg() > 0 {
		kinds = kinds[:0]
		for _, name := range fs.Args() {
			k, ok := pipeline.Lookup(name)
			if !ok {
				return fmt.Errorf("unknown module kind %q", name)
			}
			kinds = append(kinds, k)
		}
	}
	for i, k := range kinds {
		if i > 0 {
			fmt.Println()
		}
		writeKind(os.Stdout, k)
	}
	return nil
}

func writeKind(w io.Writer, k *pipeline.Kind) {
	fmt.Fprintf(w, "%s\n  %s\n", k.Name, k.Summary)
	in := strings.Join(k.In, ", ")
	if k.DynamicIn {
		in = strings.TrimPrefix(in+", any name", ", ")
	}
	out := strings.Join(k.OutQueues(), ", ")
	if k.DynamicOut {
		out = strings.TrimPrefix(out+", any name", ", ")
	}
	if in != "" {
		fmt.Fprintf(w, "  input queues:  %s\n", in)
	}
	if out != "" {
		fmt.Fprintf(w, "  output queues: %s\n", out)
	}
	if len(k.Args) == 0 {
		fmt.Fprintf(w, "  arguments: none\n")
		return
	}
	fmt.Fprintf(w, "  arguments:\n")
	for _, a := range k.Args {
		fmt.Fprintf(w, "    %-14s %-15s %-12s %s\n", a.Name, a.Type, a.DefaultString(), a.Doc)
	}
}
