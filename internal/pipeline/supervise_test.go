package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/supervise"
)

type crasher struct{}

func (crasher) Run(ctx context.Context) error { panic("input exploded") }

func init() {
	pipeline.Register(&pipeline.Kind{Name: "test.crash", Out: []string{"outbox"},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) { return crasher{}, nil }})
}

// A module that keeps crashing stops the pipeline with a clear error once
// it exceeds the restart intensity.
func TestRestartIntensityStopsPipeline(t *testing.T) {
	p, stop := start(t, `
supervisor: {backoff: 0.001, max_backoff: 0.002, failure_threshold: 3}
modules:
  bad: {module: test.crash}
`)
	_ = p
	deadline := time.After(10 * time.Second)
	for moduleStats(p, "bad").Restarts < 4 {
		select {
		case <-deadline:
			t.Fatal("no restarts")
		case <-time.After(time.Millisecond):
		}
	}
	err := stop()
	if !errors.Is(err, supervise.ErrIntensity) || !errors.Is(err, supervise.ErrPanic) {
		t.Fatalf("Run = %v", err)
	}
	want := `pipeline: stopped: supervise: restart intensity exceeded: module "bad" failed`
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("Run = %q", got)
	}
}

// With on_failure: backoff the crashing module keeps being restarted and
// the rest of the pipeline goes on delivering (errors stay isolated).
func TestCrashingModuleIsIsolated(t *testing.T) {
	out := newSink(t, t.Name(), false)
	p, stop := start(t, fmt.Sprintf(`
supervisor: {backoff: 0.001, max_backoff: 0.002, failure_threshold: 2}
modules:
  bad: {module: test.crash, on_failure: backoff}
  gen: {module: input.generator, arguments: {interval: 0.001, count: 50}}
  out: {module: test.sink, arguments: {key: %s}}
routingtable:
  - gen.outbox -> out.inbox
`, t.Name()))
	out.wait(t, 50)
	if r := moduleStats(p, "bad").Restarts; r < 3 {
		t.Fatalf("bad restarted %d times, want it to keep going past the threshold", r)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
