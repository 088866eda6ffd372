package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBashCompletionCompletesCommands sources the bash script in a real
// bash and completes "reprieve st" and "reprieve comp".
func TestBashCompletionCompletesCommands(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("no bash: %v", err)
	}
	var script strings.Builder
	if err := writeCompletion(&script, "bash"); err != nil {
		t.Fatal(err)
	}
	for word, want := range map[string]string{"st": "stats stats-job stats-tube", "comp": "completion", "--v": "--version"} {
		prog := script.String() + "\nCOMP_WORDS=(reprieve " + word + "); COMP_CWORD=1; _reprieve; echo \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "-c", prog).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("completing %q: %q, %v; want %q", word, out, err, want)
		}
	}
}

// TestZshAndFishCompletionListEveryCommand checks that the zsh and fish
// scripts name every command with its summary (and pass the shell's syntax
// check where the shell is installed).
func TestZshAndFishCompletionListEveryCommand(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		var b strings.Builder
		if err := writeCompletion(&b, shell); err != nil {
			t.Fatal(err)
		}
		for name, c := range commands {
			line := "'" + name + ":" + strings.ReplaceAll(c.summary, "'", `'\''`) + "'"
			if shell == "fish" {
				line = "-a " + name + " -d '" + strings.ReplaceAll(c.summary, "'", `'\''`) + "'"
			}
			if !strings.Contains(b.String(), line) {
				t.Errorf("%s script lacks %s", shell, line)
			}
		}
		if sh, err := exec.LookPath(shell); err == nil {
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(b.String())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}
	if err := writeCompletion(&strings.Builder{}, "tcsh"); err == nil || !isUsage(err) {
		t.Errorf("completion tcsh: %v; want a usage error", err)
	}
}
