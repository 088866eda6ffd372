package pipeline_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/pipeline"
	_ "github.com/reprieve/reprieve/internal/pipeline/module"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown kind", `
modules:
  out:
    module: output.tcpp
`, []string{`f.yaml:4: module "out": unknown module kind "output.tcpp" (did you mean output.tcp? 'reprieve modules' lists them)`}},
		{"missing kind", `
modules:
  out:
    arguments: {port: 1}
`, []string{`f.yaml:3: module "out": missing "module:" (the kind, e.g. output.tcp; 'reprieve modules' lists them)`}},
		{"unknown argument", `
modules:
  out:
    module: output.tcp
    arguments:
      port: 10001
      prot: 3
`, []string{`f.yaml:7: module "out": unknown argument "prot" for output.tcp (arguments: host, port, timeout, delimiter, persistent, confirm)`}},
		{"bad argument type", `
modules:
  out:
    module: output.tcp
    arguments:
      port: abc
`, []string{`f.yaml:6: module "out": argument "port": want an integer, got "abc"`}},
		{"argument out of range", `
modules:
  out:
    module: output.tcp
    arguments:
      port: 70000
`, []string{`f.yaml:6: module "out": argument "port": want 1-65535, got 70000`}},
		{"missing required argument", `
modules:
  out:
    module: output.tcp
`, []string{`f.yaml:3: module "out": missing required argument "port" for output.tcp (the server's port)`}},
		{"bad duration", `
modules:
  gen:
    module: input.generator
    arguments:
      interval: soon
`, []string{`f.yaml:6: module "gen": argument "interval": want a duration (seconds, or like "500ms", "2m"), got "soon"`}},
		{"unknown module in route", `
modules:
  gen:
    module: input.generator
routingtable:
  - gen.outbox -> nowhere.inbox
`, []string{`f.yaml:6: routingtable: unknown module "nowhere" in "nowhere.inbox"`}},
		{"unknown output queue", `
modules:
  gen:
    module: input.generator
  out:
    module: output.stdout
routingtable:
  - gen.inbox -> out.inbox
`, []string{`f.yaml:8: routingtable: module "gen" (input.generator) has no output queue "inbox"; its output queues: outbox`}},
		{"unknown input queue", `
modules:
  gen:
    module: input.generator
  out:
    module: output.stdout
routingtable:
  - gen.outbox -> out.outbox
`, []string{`f.yaml:8: routingtable: module "out" (output.stdout) has no input queue "outbox"; its input queues: inbox`}},
		{"source connected twice", `
modules:
  gen:
    module: input.generator
  a:
    module: output.stdout
  b:
    module: output.stdout
routingtable:
  - gen.outbox -> a.inbox
  - gen.outbox -> b.inbox
`, []string{`f.yaml:11: routingtable: queue "gen.outbox" is connected twice (first at line 10); use a flow.fanout to copy to several queues`}},
		{"destination connected twice", `
modules:
  g1:
    module: input.generator
  g2:
    module: input.generator
  a:
    module: output.stdout
routingtable:
  - g1.outbox -> a.inbox
  - g2.outbox -> a.inbox
`, []string{`f.yaml:11: routingtable: queue "a.inbox" is connected twice (first at line 10); use a flow.funnel to merge several queues`}},
		{"malformed route", `
modules:
  gen:
    module: input.generator
routingtable:
  - gen.outbox => x
`, []string{`f.yaml:6: routingtable: want "module.queue -> module.queue", got "gen.outbox => x"`}},
		{"unknown top-level key", `
modulez: {}
`, []string{`f.yaml:2: unknown top-level key "modulez" (want one of modules, routingtable, queue_size, hop_budget, deadletter, supervisor)`, `f.yaml:2: no "modules:" section`}},
		{"bad on_full", `
modules:
  out:
    module: output.stdout
    on_full: explode
`, []string{`f.yaml:5: module "out": on_full: want "block" or "drop", got "explode"`}},
		{"bad queue size", `
queue_size: 0
modules: {}
`, []string{`f.yaml:2: queue_size: want an integer from 1 to 16777216, got 0`}},
		{"retry schedule rejected", `
modules:
  r:
    module: flow.retry
    arguments:
      directory: /nonexistent/retry
      initial: 0.5
`, []string{`f.yaml:7: module "r": argument "initial": 500ms is shorter than 1s; write a delay of at least 1s, such as 1m`}},
		{"bad on_failure", `
modules:
  out:
    module: output.stdout
    on_failure: retry
`, []string{`f.yaml:5: module "out": on_failure: want "stop" (the restart intensity stops the pipeline) or "backoff" (keep restarting), got "retry"`}},
		{"unknown module key", `
modules:
  out:
    module: output.stdout
    args: {}
`, []string{`f.yaml:5: module "out": unknown key "args" (want module, arguments, queue_size, on_full, on_failure, workers)`}},
		{"bad workers", `
modules:
  out:
    module: output.stdout
    workers: 0
`, []string{`f.yaml:5: module "out": workers: want an integer from 1 to 16777216, got 0`}},
		{"deadletter not an input queue", `
deadletter: gen.outbox
modules:
  gen:
    module: input.generator
`, []string{`f.yaml:2: routingtable: module "gen" (input.generator) has no input queue "outbox"; its input queues: none (it is an input)`}},
		{"deadletter also routed", `
deadletter: dead.inbox
modules:
  gen: {module: input.generator}
  dead: {module: output.stdout}
routingtable:
  - gen.outbox -> dead.inbox
`, []string{`f.yaml:2: deadletter: queue "dead.inbox" is also connected in the routing table (line 7); give the dead letters a queue of their own`}},
		{"bad supervisor key", `
supervisor:
  backof: 1
modules: {}
`, []string{`f.yaml:3: supervisor: unknown key "backof" (want backoff, max_backoff, failure_threshold, failure_decay)`}},
		{"repeated key", `
modules:
  a: {module: output.stdout}
  a: {module: output.stdout}
`, []string{`f.yaml:4: YAML syntax: mapping key "a" already defined at [3:3]; correct the YAML (indent with spaces; one key per line)`}},
		{"invalid yaml", "modules:\n  a: [1, 2\n", []string{`f.yaml:2: YAML syntax: sequence end token ']' not found; correct the YAML (indent with spaces; one key per line)`}},
		{"several errors sorted by line", `
modules:
  a:
    module: nope
  b:
    module: output.tcp
    arguments: {port: 0}
`, []string{`f.yaml:4: module "a": unknown module kind "nope" ('reprieve modules' lists them)`, `f.yaml:7: module "b": argument "port": want 1-65535, got 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := pipeline.Parse("f.yaml", []byte(tt.src))
			if !errors.Is(err, pipeline.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var inv *pipeline.InvalidError
			errors.As(err, &inv)
			if len(inv.Diags) != len(tt.want) {
				t.Fatalf("got %d errors:\n%v\nwant %d:\n%s", len(inv.Diags), err, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, d := range inv.Diags {
				got := d.String()
				if strings.HasSuffix(tt.want[i], ": ") {
					if !strings.HasPrefix(got, tt.want[i]) {
						t.Errorf("error %d = %q, want prefix %q", i, got, tt.want[i])
					}
				} else if got != tt.want[i] {
					t.Errorf("error %d\n got %s\nwant %s", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestParseWarnsUnconnectedFailed(t *testing.T) {
	src := `
modules:
  gen:
    module: input.generator
  out:
    module: output.tcp
    arguments: {port: 10001}
  errors:
    module: output.stdout
routingtable:
  - gen.outbox -> out.inbox
  - out.failed -> errors.inbox
`
	cfg, warns, err := pipeline.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := `f.yaml:8: warning: queue "errors.failed" is not connected: its failed messages will be logged and given up (connect it, e.g. "errors.failed -> errors.inbox")`
	if len(warns) != 1 || warns[0].String() != want {
		t.Fatalf("warnings = %v\nwant [%s]", warns, want)
	}
	if len(cfg.Modules) != 3 || len(cfg.Routes) != 2 || cfg.Modules[1].Args.Int("port") != 10001 || cfg.Modules[1].Args.String("host") != "127.0.0.1" {
		t.Fatalf("config = %+v", cfg)
	}
}

func TestExampleFilesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue // the examples' tests (reprieve test), not pipelines
		}
		if _, _, err := pipeline.LoadFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
