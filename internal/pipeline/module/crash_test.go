package module

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
)

const crashChildEnv = "REPRIEVE_PIPELINE_CHILD"

// runChild runs the pipeline in the file named by the environment until
// killed; it is the child process of TestFileInputSurvivesSIGKILL.
func runChild(path string) {
	cfg, _, err := pipeline.LoadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	p, err := pipeline.New(cfg, pipeline.Options{Clock: clock.Real(), Log: quietLog()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	p.Run(context.Background())
	os.Exit(0)
}

// A pipeline process killed with SIGKILL resumes, in a new process, from
// the committed offset of its file input: every record arrives, and the
// repeats are bounded by what was in flight (at least once).
func TestFileInputSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		runChild(path)
		return
	}
	const records = 1200
	var mu sync.Mutex // protects got
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	count := func() (distinct, total int) {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range got {
			total += n
		}
		return len(got), total
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "clicks.log")
	writeRecords(t, log, 0, records)
	cfgPath := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
queue_size: 20
modules:
  in: {module: input.file, arguments: {path: %s, commit_every: 1024, poll_interval: 0.01}}
  out: {module: output.http, arguments: {url: "%s"}}
routingtable:
  - in.outbox -> out.inbox
`, log, srv.URL)), 0o644)
	start := func() *exec.Cmd { return startCrashChild(t, "TestFileInputSurvivesSIGKILL", cfgPath) }
	first := start()
	poll.Until(t, "a third of the records", func() bool { d, _ := count(); return d >= records/3 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	_, before := count()
	second := start()
	defer func() { second.Process.Kill(); second.Wait() }()
	poll.Until(t, "every record", func() bool { d, _ := count(); return d == records })
	time.Sleep(50 * time.Millisecond) // let stray repeats show
	distinct, total := count()
	dups := total - distinct
	t.Logf("killed after %d deliveries; %d records delivered %d times: %d repeats", before, distinct, total, dups)
	// Repeats come only from the window after the last committed offset:
	// commit_every (1024 bytes, ~30 records) plus the queue (20) plus one
	// record in each module.
	if limit := 1024/33 + 20 + 2; dups > limit {
		t.Fatalf("%d repeats, more than the in-flight window of %d", dups, limit)
	}
}

// The same for the disk buffer: a process reading a buffer file is killed
// half-way; the next one resumes from the file's committed offset.
func TestDiskInputSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		runChild(path)
		return
	}
	const records = 1200
	var mu sync.Mutex // protects got
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("X-Message-Id")]++
		mu.Unlock()
	}))
	defer srv.Close()
	count := func() (distinct, total int) {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range got {
			total += n
		}
		return len(got), total
	}
	dir := t.TempDir()
	buf := filepath.Join(dir, "buf")
	os.MkdirAll(buf, 0o755)
	var lines []byte
	for i := range records {
		b, _ := pipeline.NewMessage(fmt.Sprintf("m-%d", i), []byte(`{"click":"add-to-cart"}`)).Marshal()
		lines = append(append(lines, b...), '\n')
	}
	file := filepath.Join(buf, "diskout.00000000000000000001-00000001.ready")
	os.WriteFile(file, lines, 0o644)
	cfgPath := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
queue_size: 20
modules:
  in: {module: input.disk, arguments: {directory: %s, poll_interval: 0.01}}
  out: {module: output.http, arguments: {url: "%s"}}
routingtable:
  - in.outbox -> out.inbox
`, buf, srv.URL)), 0o644)
	start := func() *exec.Cmd { return startCrashChild(t, "TestDiskInputSurvivesSIGKILL", cfgPath) }
	first := start()
	poll.Until(t, "a third of the records", func() bool { d, _ := count(); return d >= records/3 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if _, err := os.Stat(file + ".offset"); err != nil {
		t.Fatalf("no committed offset after the kill: %v", err)
	}
	second := start()
	defer func() { second.Process.Kill(); second.Wait() }()
	poll.Until(t, "every record", func() bool { d, _ := count(); return d == records })
	poll.Until(t, "the buffer file to be removed", func() bool {
		_, err := os.Stat(file)
		return os.IsNotExist(err)
	})
	distinct, total := count()
	dups := total - distinct
	t.Logf("%d records delivered %d times: %d repeats", distinct, total, dups)
	// Repeats come from the window after the last committed offset: 4096
	// bytes of records (~40) plus the queue (20) plus one in each module.
	if limit := 4096*records/len(lines) + 20 + 2; dups > limit {
		t.Fatalf("%d repeats, more than the in-flight window of %d", dups, limit)
	}
}

// startCrashChild starts this test binary again, running only the test
// named, as a child process that runs the pipeline in cfgPath until it is
// killed.
func startCrashChild(t *testing.T, test, cfgPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
