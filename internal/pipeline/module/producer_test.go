package module

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
)

var errSessionTimeout = errors.New("simulated session timeout")

func writeRecords(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "{\"user\":%d,\"click\":\"add-to-cart\"}\n", i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func producerConfig(log, out string) string {
	return fmt.Sprintf(`
supervisor: {backoff: 0.001, max_backoff: 0.01}
modules:
  producer:
    module: input.file
    arguments: {path: %s, poll_interval: 0.01}
    on_failure: backoff
  sink:
    module: output.file
    arguments: {path: %s}
routingtable:
  - producer.outbox -> sink.inbox
`, log, out)
}

// countRecords checks that records [0, n) all arrived and returns the number
// of duplicates.
func countRecords(t *testing.T, lines []string, n int) int {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	for i := range n {
		if seen[fmt.Sprintf("{\"user\":%d,\"click\":\"add-to-cart\"}", i)] == 0 {
			t.Fatalf("record %d never arrived (%d lines)", i, len(lines))
		}
	}
	return len(lines) - len(seen)
}

// Seed 002's producer: a reader of an append-only log that fails at random
// (1 in 1,000 reads) is restarted by its supervisor from its offset; all
// 10,000 records arrive, with at most one duplicate per restart.
func TestProducerRestartsFromOffset(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "clicks.log"), filepath.Join(dir, "out.log")
	writeRecords(t, log, 0, 10000)
	rng := rand.New(rand.NewPCG(2016, 4))
	var mu sync.Mutex // protects rng
	p, stop := run(t, producerConfig(log, out), clock.Real(), func(p *pipeline.Pipeline) {
		m, _ := p.Module("producer")
		m.(*fileIn).fault = func() error {
			mu.Lock()
			defer mu.Unlock()
			if rng.IntN(1000) == 0 {
				return errSessionTimeout
			}
			return nil
		}
	})
	poll.Until(t, "10,000 records", func() bool { return moduleStats(p, "sink").Handled >= 10000 && p.InFlight() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	restarts := moduleStats(p, "producer").Restarts
	dups := countRecords(t, readLines(t, out), 10000)
	t.Logf("10,000 records, %d restarts, %d duplicates", restarts, dups)
	if restarts < 3 {
		t.Fatalf("only %d restarts: the fault injection did not work", restarts)
	}
	if dups > int(restarts) {
		t.Fatalf("%d duplicates for %d restarts", dups, restarts)
	}
	if off, _ := os.ReadFile(log + ".offset"); strings.TrimSpace(string(off)) != fmt.Sprint(fileSize(t, log)) {
		t.Fatalf("committed offset %q, file size %d", off, fileSize(t, log))
	}
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// A process restart resumes from the committed offset: a second pipeline
// over the same file delivers only what was appended meanwhile.
func TestProducerResumesAfterProcessRestart(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "clicks.log"), filepath.Join(dir, "out.log")
	writeRecords(t, log, 0, 500)
	p, stop := run(t, producerConfig(log, out), clock.Real(), nil)
	poll.Until(t, "first 500", func() bool { return moduleStats(p, "sink").Handled >= 500 && p.InFlight() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, log, 500, 800)
	p, stop = run(t, producerConfig(log, out), clock.Real(), nil)
	poll.Until(t, "300 more", func() bool { return moduleStats(p, "sink").Handled >= 300 && p.InFlight() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if dups := countRecords(t, readLines(t, out), 800); dups != 0 {
		t.Fatalf("%d duplicates after a clean restart", dups)
	}
	if n := moduleStats(p, "sink").Handled; n != 300 {
		t.Fatalf("second run delivered %d, want 300", n)
	}
}

// input.disk restarted by its supervisor in the middle of a buffer file
// resumes from the record after the last one it emitted.
func TestDiskInputRestartsFromOffset(t *testing.T) {
	dir := t.TempDir()
	buf, out := filepath.Join(dir, "buf"), filepath.Join(dir, "out")
	os.MkdirAll(buf, 0o755)
	var lines []byte
	for i := range 3000 {
		b, _ := pipeline.NewMessage(fmt.Sprintf("m-%d", i), []byte(fmt.Sprintf("record %d", i))).Marshal()
		lines = append(append(lines, b...), '\n')
	}
	os.WriteFile(filepath.Join(buf, "x.1.ready"), lines, 0o644)
	rng := rand.New(rand.NewPCG(7, 7))
	var mu sync.Mutex // protects rng
	p, stop := run(t, fmt.Sprintf(`
supervisor: {backoff: 0.001, max_backoff: 0.01}
modules:
  in: {module: input.disk, arguments: {directory: %s, poll_interval: 0.01}, on_failure: backoff}
  out: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> out.inbox
`, buf, out), clock.Real(), func(p *pipeline.Pipeline) {
		m, _ := p.Module("in")
		m.(*diskIn).fault = func() error {
			mu.Lock()
			defer mu.Unlock()
			if rng.IntN(300) == 0 {
				return errSessionTimeout
			}
			return nil
		}
	})
	poll.Until(t, "3000 records and an empty buffer", func() bool {
		left, _ := filepath.Glob(filepath.Join(buf, "*"))
		return moduleStats(p, "out").Handled >= 3000 && len(left) == 0
	})
	stop()
	restarts := moduleStats(p, "in").Restarts
	seen := map[string]int{}
	got := readLines(t, out)
	for _, l := range got {
		seen[l]++
	}
	for i := range 3000 {
		if seen[fmt.Sprintf("record %d", i)] == 0 {
			t.Fatalf("record %d lost", i)
		}
	}
	dups := len(got) - len(seen)
	t.Logf("3000 records, %d restarts, %d duplicates", restarts, dups)
	if restarts < 3 || dups > int(restarts) {
		t.Fatalf("%d restarts, %d duplicates", restarts, dups)
	}
}
