package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// This file holds the completion subcommand: shell scripts that complete
// reprieve's subcommand names (with their summaries where the shell shows
// them), then file names.

func init() {
	register("completion", "print a shell completion script: completion bash|zsh|fish", func(args []string) error {
		if len(args) != 1 {
			return usagef("want one shell: reprieve completion bash|zsh|fish (e.g. source <(reprieve completion bash))")
		}
		return writeCompletion(os.Stdout, args[0])
	})
}

// writeCompletion writes the completion script for shell.
func writeCompletion(w io.Writer, shell string) error {
	names := make([]string, 0, len(commands)+1)
	for n := range commands {
		names = append(names, n)
	}
	names = append(names, "help")
	sort.Strings(names)
	summary := func(n string) string {
		if n == "help" {
			return "list the commands"
		}
		return commands[n].summary
	}
	switch shell {
	case "bash":
		fmt.Fprintf(w, `# bash completion for reprieve: source <(reprieve completion bash)
_reprieve() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "%s --version" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o default -F _reprieve reprieve
`, strings.Join(names, " "))
	case "zsh":
		fmt.Fprintf(w, "#compdef reprieve\n# zsh completion for reprieve: reprieve completion zsh > \"${fpath[1]}/_reprieve\"\n_reprieve() {\n\tlocal -a cmds\n\tcmds=(\n")
		for _, n := range names {
			fmt.Fprintf(w, "\t\t%s\n", shellQuote(n+":"+summary(n)))
		}
		fmt.Fprintf(w, "\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe 'command' cmds\n\telse\n\t\t_files\n\tfi\n}\ncompdef _reprieve reprieve\n")
	case "fish":
		fmt.Fprintf(w, "# fish completion for reprieve: reprieve completion fish > ~/.config/fish/completions/reprieve.fish\n")
		for _, n := range names {
			fmt.Fprintf(w, "complete -c reprieve -n __fish_use_subcommand -f -a %s -d %s\n", n, shellQuote(summary(n)))
		}
	default:
		return usagef("unknown shell %q: write bash, zsh or fish", shell)
	}
	return nil
}

// shellQuote quotes s in single quotes for sh, zsh and fish.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
