package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesPassTheirTests runs `reprieve test` on every example, from
// the repository's root as the examples expect: each pipeline in examples/
// has a test file, and every case passes.
func TestExamplesPassTheirTests(t *testing.T) {
	t.Chdir("../..")
	pipelines, err := filepath.Glob("examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range pipelines {
		if strings.HasSuffix(p, "_test.yaml") {
			continue
		}
		f, err := testFiles(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		files = append(files, f...)
	}
	var out bytes.Buffer
	failed, total, err := runTestFiles(context.Background(), &out, files, nil)
	if err != nil || failed != 0 || total < 9 {
		t.Fatalf("reprieve test examples: %d of %d failed, %v\n%s", failed, total, err, out.String())
	}
}

// TestFixedHandlerIsTheShippedOneWithoutItsBug keeps examples/handle-fixed.sh
// what hot-reload.yaml tells the user to make of handle.sh: the same
// commands without the two lines marked BUG.
func TestFixedHandlerIsTheShippedOneWithoutItsBug(t *testing.T) {
	commands := func(path string, dropBug bool) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		skip := false
		for _, l := range strings.Split(string(b), "\n") {
			if dropBug && strings.Contains(l, "BUG") {
				skip = true // this comment and the line after it
				continue
			}
			if skip {
				skip = false
				continue
			}
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	shipped := commands("../../examples/handle.sh", true)
	fixed := commands("../../examples/handle-fixed.sh", false)
	if strings.Join(shipped, "\n") != strings.Join(fixed, "\n") || len(fixed) != 2 {
		t.Fatalf("handle.sh without its BUG lines:\n%s\nhandle-fixed.sh:\n%s", strings.Join(shipped, "\n"), strings.Join(fixed, "\n"))
	}
}
