package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckCommand(t *testing.T) {
	if err := runCheck([]string{"../../examples/failover.yaml"}); err != nil {
		t.Fatalf("failover.yaml: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("modules:\n  a: {module: nope}\n"), 0o644)
	err := runCheck([]string{bad})
	if err == nil || err.Error() != "1 error in "+bad {
		t.Fatalf("bad file: %v", err)
	}
	if err := runCheck(nil); !isUsage(err) {
		t.Fatalf("no file: %v, want a usage error", err)
	}
}

// 'reprieve run' in a child process: it runs the file, and SIGTERM makes it
// drain, write the last offsets and exit 0.
func TestRunCommandStopsGracefully(t *testing.T) {
	if file := os.Getenv("REPRIEVE_RUN_CHILD"); file != "" {
		if err := runRun([]string{"--debug", "--stats-interval", "50ms", file}); err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.log")
	os.WriteFile(in, []byte("a\nb\nc\n"), 0o644)
	file := filepath.Join(dir, "p.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`
modules:
  in: {module: input.file, arguments: {path: %s, poll_interval: 0.01}}
  out: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> out.inbox
`, in, out)), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunCommandStopsGracefully$")
	cmd.Env = append(os.Environ(), "REPRIEVE_RUN_CHILD="+file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if string(b) == "a\nb\nc\n" {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("output %q; stderr:\n%s", b, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
	}
	if off, _ := os.ReadFile(in + ".offset"); string(off) != "6\n" {
		t.Fatalf("offset file %q, want 6", off)
	}
	for _, want := range []string{"pipeline running", "out (output.file): handled=3 failed=0"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
