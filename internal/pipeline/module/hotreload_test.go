package module

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
)

// replaceScript writes a new version of an executable and renames it over
// the old one, as a deploy would.
func replaceScript(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Seed 001's hot reload: the handler script fails, the message waits in the
// retry module, the script is fixed on disk, and the next retry succeeds.
func TestExecRetryHotReload(t *testing.T) {
	dir := t.TempDir()
	script, done, out := filepath.Join(dir, "handle.sh"), filepath.Join(dir, "handled.txt"), filepath.Join(dir, "out.txt")
	replaceScript(t, script, "echo 'KeyError: customer' >&2\nexit 3\n")
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	src := fmt.Sprintf(`
modules:
  gen:
    module: input.generator
    arguments: {interval: 0, count: 1, id_prefix: call}
  funnel:
    module: flow.funnel
  handler:
    module: process.exec
    arguments: {command: %s}
  retry:
    module: flow.retry
    arguments: {directory: %s, jitter: 0}
  done:
    module: output.file
    arguments: {path: %s}
routingtable:
  - gen.outbox -> funnel.new
  - retry.outbox -> funnel.retried
  - funnel.outbox -> handler.inbox
  - handler.failed -> retry.inbox
  - handler.successful -> done.inbox
`, script, filepath.Join(dir, "retry"), out)
	p, stop := run(t, src, clk, nil)
	m, _ := p.Module("retry")
	r := m.(*retryMod)
	poll.Until(t, "the failed call to be held for retry", func() bool { return r.Waiting() == 1 && clk.Pending() >= 1 })
	files, _ := filepath.Glob(filepath.Join(dir, "retry", "*.msg"))
	if len(files) != 1 {
		t.Fatalf("retry directory holds %v, want one message file", files)
	}
	held, _ := os.ReadFile(files[0])
	msg, err := pipeline.Unmarshal(held)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Errors) != 1 || msg.Errors[0].Module != "handler" || !strings.Contains(msg.Errors[0].Error, "exit status 3: KeyError: customer") {
		t.Fatalf("held message chain = %+v", msg.Errors)
	}

	// Not due yet: 59 s later nothing has run again.
	clk.Advance(59 * time.Second)
	if moduleStats(p, "handler").Failed != 1 || r.Waiting() != 1 {
		t.Fatalf("retried early: %+v", moduleStats(p, "handler"))
	}
	// The developer fixes the script meanwhile.
	replaceScript(t, script, fmt.Sprintf("cat > %s\necho >> %s\necho \"attempt=$REPRIEVE_ATTEMPT\" >> %s\n", done, done, done))
	clk.Advance(time.Second)
	poll.Until(t, "the retried call to succeed", func() bool { return len(readLines(t, out)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	handled := readLines(t, done)
	if len(handled) != 2 || !strings.Contains(handled[0], `"id":"call-1"`) || handled[1] != "attempt=2" {
		t.Fatalf("the fixed script saw %q", handled)
	}
	if s := moduleStats(p, "handler"); s.Failed != 1 || s.Handled != 1 {
		t.Fatalf("handler stats = %+v", s)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "retry", "*.msg")); len(left) != 0 {
		t.Fatalf("retry files left: %v", left)
	}
}

// The retry delays grow from initial by factor; after max_attempts
// failures the message goes to failed.
func TestRetryScheduleAndGiveUp(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	src := fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 1, id_prefix: g}}
  funnel: {module: flow.funnel}
  handler: {module: process.exec, arguments: {command: "false"}}
  retry: {module: flow.retry, arguments: {directory: %s, initial: 10, factor: 2, jitter: 0, max_age: 0, max_attempts: 3}}
  dead: {module: output.file, arguments: {path: %s}}
routingtable:
  - gen.outbox -> funnel.new
  - retry.outbox -> funnel.retried
  - funnel.outbox -> handler.inbox
  - handler.failed -> retry.inbox
  - retry.failed -> dead.inbox
`, filepath.Join(dir, "retry"), filepath.Join(dir, "dead"))
	p, stop := run(t, src, clk, nil)
	m, _ := p.Module("retry")
	r := m.(*retryMod)
	for i, d := range []time.Duration{10 * time.Second, 20 * time.Second} {
		poll.Until(t, fmt.Sprintf("hold %d", i+1), func() bool { return r.Waiting() == 1 && clk.Pending() >= 1 })
		clk.Advance(d - time.Millisecond)
		if r.Waiting() != 1 {
			t.Fatalf("attempt %d sent early", i+1)
		}
		clk.Advance(time.Millisecond)
		poll.Until(t, "the retry to be sent", func() bool { return moduleStats(p, "handler").Failed == uint64(i+2) })
	}
	poll.Until(t, "give up", func() bool { return moduleStats(p, "dead").Handled == 1 })
	stop()
	if s := moduleStats(p, "retry"); s.Failed != 1 || s.Handled != 2 {
		t.Fatalf("retry stats %+v", s)
	}
}
