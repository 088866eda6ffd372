package pipetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

// writeSuite writes a test file for testdata/chain.yaml and loads it.
func writeSuite(t *testing.T, src string) *Suite {
	t.Helper()
	abs, err := filepath.Abs("testdata/chain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "chain_test.yaml")
	if err := os.WriteFile(f, []byte("pipeline: "+abs+"\n"+src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, s *Suite) []Result {
	t.Helper()
	res, err := Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCasesPassAndFailWithADiff runs a passing case, one whose outputs
// differ (with the exact diff), and one with a bad queue name.
func TestCasesPassAndFailWithADiff(t *testing.T) {
	s := writeSuite(t, `tests:
  - name: first takes it
    input:
      queue: in.outbox
      messages: [{body: a}, {body: b}]
    expect:
      first.inbox: [{body: a}, {body: b}]
      second.inbox: []
  - name: first is down
    fail: {first: refused}
    input:
      queue: in.outbox
      messages: [{body: a}]
    expect:
      second.inbox:
        - body: b
          errors: [{module: first, error_contains: refus}]
      first.successful: [{body: a}]
  - name: no such queue
    input: {queue: in.nowhere, messages: [{body: a}]}
`)
	res := run(t, s)
	if !res[0].Passed() {
		t.Errorf("case 1: %v\n%s", res[0].Err, res[0].Diff)
	}
	want := `first.successful: want 1 message, got 0
  - - body: "a"
second.inbox: want 1 message, got 1
  - - body: "b"
  + - body: "a"
      errors: 1
        - module: first
          error_contains: "refus"
`
	if res[1].Passed() || res[1].Err != nil || res[1].Diff != want {
		t.Errorf("case 2: err %v, diff\n%s\nwant\n%s", res[1].Err, res[1].Diff, want)
	}
	if res[1].Case.Line() != 10 || res[2].Case.Line() != 20 {
		t.Errorf("case lines %d and %d, want 10 and 20", res[1].Case.Line(), res[2].Case.Line())
	}
	if res[2].Err == nil || !strings.Contains(res[2].Err.Error(), `input queue "in.nowhere": no such module or queue`) {
		t.Errorf("case 3: %v", res[2].Err)
	}
}

// TestArgumentsAndFailValidated rejects overrides of unknown modules or
// arguments, and fail: for a module that is not an output.
func TestArgumentsAndFailValidated(t *testing.T) {
	s := writeSuite(t, `tests:
  - arguments: {first: {port: x}}
    input: {queue: in.outbox}
  - arguments: {first: {nope: 1}}
    input: {queue: in.outbox}
  - fail: {in: down}
    input: {queue: in.outbox}
`)
	res := run(t, s)
	for i, want := range []string{
		`arguments: first: argument "port": want a value of type integer, got x`,
		`arguments: first: output.tcp has no argument "nope"`,
		`fail: "in" is not an output module`,
	} {
		if res[i].Err == nil || !strings.Contains(res[i].Err.Error(), want) {
			t.Errorf("case %d: %v; want %q", i+1, res[i].Err, want)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ src, want string }{
		{"tests: []\n", `no "pipeline:"`},
		{"pipeline: x.yaml\n", "no cases"},
		{"pipeline: x.yaml\ntests:\n  - input: {queue: nodot}\n", `input queue "nodot": write module.queue`},
		{"pipeline: x.yaml\ntests:\n  - input: {queue: a.b}\n    expekt: {}\n", `unknown field "expekt"`},
	} {
		f := filepath.Join(dir, "x_test.yaml")
		os.WriteFile(f, []byte(tt.src), 0o644)
		_, err := Load(f)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v; want %q", tt.src, err, tt.want)
		}
	}
}
