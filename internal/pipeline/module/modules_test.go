package module

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/reprieve/reprieve/internal/servertest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
)

// freeAddr returns a loopback address free a moment ago (servertest.FreeAddr).
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := servertest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// Lines written to input.tcp come out of output.tcp at a real listener.
func TestTCPInToTCPOut(t *testing.T) {
	dst := newLineServer(t)
	addr := freeAddr(t)
	p, _ := run(t, fmt.Sprintf(`
modules:
  in: {module: input.tcp, arguments: {address: "%s"}}
  out: {module: output.tcp, arguments: {port: %d, persistent: true}}
routingtable:
  - in.outbox -> out.inbox
`, addr, dst.port), clock.Real(), nil)
	var c net.Conn
	poll.Until(t, "the tcp input to listen", func() bool {
		var err error
		c, err = net.Dial("tcp", addr)
		return err == nil
	})
	fmt.Fprint(c, "one\ntwo\nthree\n")
	c.Close()
	poll.Until(t, "three lines", func() bool { return dst.count() == 3 })
	if got := strings.Join(dst.received(), ","); got != "one,two,three" {
		t.Fatalf("received %s", got)
	}
	// The line server can read the last line before output.tcp's Handle
	// has returned and been counted.
	poll.Until(t, "output.tcp to count three messages", func() bool { return moduleStats(p, "out").Handled+moduleStats(p, "out").Failed == 3 })
	if s := moduleStats(p, "out"); s.Handled != 3 || s.Failed != 0 {
		t.Fatalf("out stats %+v", s)
	}
}

// input.http accepts POSTs; output.http raises on a non-2xx reply, which
// routes the message to the next output (fallback, as in Benthos).
func TestHTTPInAndOutWithFallback(t *testing.T) {
	var mu sync.Mutex // protects bodies
	var bodies []string
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	addr := freeAddr(t)
	errFile := filepath.Join(t.TempDir(), "errors.json")
	p, _ := run(t, fmt.Sprintf(`
modules:
  in: {module: input.http, arguments: {address: "%s", path: /ingest}}
  primary: {module: output.http, arguments: {url: "%s"}}
  fan: {module: flow.fanout}
  secondary: {module: output.http, arguments: {url: "%s"}}
  audit: {module: output.file, arguments: {path: %s}}
  enc: {module: test.json}
routingtable:
  - in.outbox -> primary.inbox
  - primary.failed -> fan.inbox
  - fan.a -> secondary.inbox
  - fan.b -> enc.inbox
  - enc.outbox -> audit.inbox
`, addr, bad.URL, good.URL, errFile), clock.Real(), nil)
	var resp *http.Response
	poll.Until(t, "the http input to listen", func() bool {
		var err error
		resp, err = http.Post("http://"+addr+"/ingest", "text/plain", strings.NewReader("hello"))
		return err == nil
	})
	if resp.StatusCode != 200 || resp.Header.Get("X-Message-Id") == "" {
		t.Fatalf("POST: %s", resp.Status)
	}
	resp.Body.Close()
	if r, _ := http.Get("http://" + addr + "/ingest"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %s", r.Status)
	}
	poll.Until(t, "delivery to the fallback", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 1 })
	poll.Until(t, "the audit copy", func() bool { return len(readLines(t, errFile)) == 1 })
	var m pipeline.Message
	if err := json.Unmarshal([]byte(readLines(t, errFile)[0]), &m); err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != "hello" || len(m.Errors) != 1 || m.Errors[0].Module != "primary" ||
		m.Errors[0].Error != "module: HTTP status 503 Service Unavailable: overloaded" {
		t.Fatalf("audit copy = %+v", m)
	}
	_ = p
}

// jsonEnc replaces the body by the whole message as JSON (for assertions).
type jsonEnc struct{ env *pipeline.Env }

func (j *jsonEnc) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	b, _ := json.Marshal(m)
	c := m.Clone()
	c.Body = b
	return j.env.Emit(ctx, "outbox", c)
}

func init() {
	pipeline.Register(&pipeline.Kind{Name: "test.json", In: []string{"inbox"}, Out: []string{"outbox"},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) { return &jsonEnc{env: env}, nil }})
}

// Round-robin spreads messages evenly over its outputs.
func TestRoundRobin(t *testing.T) {
	dir := t.TempDir()
	p, stop := run(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 30}}
  rr: {module: flow.roundrobin}
  a: {module: output.file, arguments: {path: %[1]s/a}}
  b: {module: output.file, arguments: {path: %[1]s/b}}
  c: {module: output.file, arguments: {path: %[1]s/c}}
routingtable:
  - gen.outbox -> rr.inbox
  - rr.one -> a.inbox
  - rr.two -> b.inbox
  - rr.three -> c.inbox
`, dir), clock.Real(), nil)
	poll.Until(t, "30 messages", func() bool {
		return moduleStats(p, "a").Handled+moduleStats(p, "b").Handled+moduleStats(p, "c").Handled == 30
	})
	stop()
	for _, f := range []string{"a", "b", "c"} {
		if n := len(readLines(t, filepath.Join(dir, f))); n != 10 {
			t.Errorf("%s got %d, want 10", f, n)
		}
	}
}

// output.stdout prints bodies, or whole messages as JSON.
func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	old := Stdout
	Stdout = &buf
	defer func() { Stdout = old }()
	p, stop := run(t, `
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 2, id_prefix: s}}
  out: {module: output.stdout, arguments: {format: json}}
routingtable:
  - gen.outbox -> out.inbox
`, clock.Real(), nil)
	poll.Until(t, "2 lines", func() bool { return moduleStats(p, "out").Handled == 2 })
	stop()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var ids []string
	for _, l := range lines {
		var m pipeline.Message
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "s-1,s-2" {
		t.Fatalf("ids %v", ids)
	}
}

// input.file tails a growing file and starts over when it is truncated.
func TestFileTailAndTruncate(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.log")
	p, stop := run(t, fmt.Sprintf(`
modules:
  in: {module: input.file, arguments: {path: %s, poll_interval: 0.005}}
  out: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> out.inbox
`, log, out), clock.Real(), nil)
	os.WriteFile(log, []byte("a\nb\npart"), 0o644)
	poll.Until(t, "2 lines", func() bool { return moduleStats(p, "out").Handled == 2 })
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("ial\nc\n")
	f.Close()
	poll.Until(t, "4 lines", func() bool { return moduleStats(p, "out").Handled == 4 })
	os.WriteFile(log, []byte("x\n"), 0o644)
	poll.Until(t, "5 lines", func() bool { return moduleStats(p, "out").Handled == 5 })
	stop()
	if got := strings.Join(readLines(t, out), ","); got != "a,b,partial,c,x" {
		t.Fatalf("got %s", got)
	}
}

// The disk buffer survives a process restart: messages buffered by one
// pipeline are read back by the next, each exactly once.
func TestDiskBufferAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	buf, out := filepath.Join(dir, "buf"), filepath.Join(dir, "out")
	_, stop := run(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 250, id_prefix: d}}
  diskout: {module: output.disk, arguments: {directory: %s, batch: 100, interval: 10}}
routingtable:
  - gen.outbox -> diskout.inbox
`, buf), clock.Real(), nil)
	poll.Until(t, "two full batches", func() bool {
		m, _ := filepath.Glob(filepath.Join(buf, "*.ready"))
		return len(m) == 2
	})
	if err := stop(); err != nil { // Close writes the last 50
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(buf, "*.ready")); len(m) != 3 {
		t.Fatalf("%d buffer files after shutdown, want 3", len(m))
	}
	p, stop := run(t, fmt.Sprintf(`
modules:
  diskin: {module: input.disk, arguments: {directory: %s, poll_interval: 0.01}}
  out: {module: output.file, arguments: {path: %s}}
routingtable:
  - diskin.outbox -> out.inbox
`, buf, out), clock.Real(), nil)
	poll.Until(t, "250 messages", func() bool { return moduleStats(p, "out").Handled == 250 && p.InFlight() == 0 })
	poll.Until(t, "the buffer to empty", func() bool {
		m, _ := filepath.Glob(filepath.Join(buf, "*"))
		return len(m) == 0
	})
	stop()
	seen := map[string]bool{}
	for _, l := range readLines(t, out) {
		var v struct{ ID string }
		json.Unmarshal([]byte(l), &v)
		seen[v.ID] = true
	}
	if len(seen) != 250 || len(readLines(t, out)) != 250 {
		t.Fatalf("%d distinct of %d lines", len(seen), len(readLines(t, out)))
	}
}

// Shutdown drains the in-memory queues through the failover chain into the
// disk buffer: nothing that was accepted is lost when the process stops
// while every destination is down.
func TestShutdownDrainsIntoDiskBuffer(t *testing.T) {
	dead := freeAddr(t) // nothing listens here
	_, port, _ := net.SplitHostPort(dead)
	buf := filepath.Join(t.TempDir(), "buf")
	p, stop := run(t, fmt.Sprintf(`
queue_size: 200
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 300, id_prefix: s}}
  out: {module: output.tcp, arguments: {port: %s}}
  diskout: {module: output.disk, arguments: {directory: %s, interval: 60, batch: 100000}}
routingtable:
  - gen.outbox -> out.inbox
  - out.failed -> diskout.inbox
`, port, buf), clock.Real(), nil)
	poll.Until(t, "300 generated", func() bool { return queueStats(p, "gen", "outbox").Out == 300 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(buf, "*.ready"))
	seen := map[string]bool{}
	for _, f := range files {
		for _, l := range readLines(t, f) {
			m, err := pipeline.Unmarshal([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Errors) != 1 || m.Errors[0].Module != "out" {
				t.Fatalf("buffered message without its failure: %+v", m)
			}
			seen[m.ID] = true
		}
	}
	if len(seen) != 300 {
		t.Fatalf("%d of 300 messages in the buffer after shutdown", len(seen))
	}
	if ids, _ := p.Undelivered(); len(ids) != 0 {
		t.Fatalf("undelivered: %v", ids)
	}
}

// With idle_trigger, input.disk leaves the buffer alone until nothing has
// been written to it for idle_time (Wishbone's diskin), on the fake clock.
func TestDiskInIdleTrigger(t *testing.T) {
	dir := t.TempDir()
	buf, out := filepath.Join(dir, "buf"), filepath.Join(dir, "out")
	os.MkdirAll(buf, 0o755)
	b, _ := pipeline.NewMessage("m-1", []byte("buffered")).Marshal()
	file := filepath.Join(buf, "d.1.ready")
	os.WriteFile(file, append(b, '\n'), 0o644)
	st, _ := os.Stat(file)
	clk := clock.NewFake(st.ModTime())
	p, stop := run(t, fmt.Sprintf(`
modules:
  diskin: {module: input.disk, arguments: {directory: %s, idle_trigger: true, idle_time: 10, poll_interval: 1}}
  out: {module: output.file, arguments: {path: %s}}
routingtable:
  - diskin.outbox -> out.inbox
`, buf, out), clk, nil)
	for range 9 {
		poll.Until(t, "diskin to wait", func() bool { return clk.Pending() == 1 })
		clk.Advance(time.Second)
	}
	poll.Until(t, "diskin to wait", func() bool { return clk.Pending() == 1 })
	if n := queueStats(p, "diskin", "outbox").In; n != 0 {
		t.Fatalf("read %d messages 9s after the last write", n)
	}
	clk.Advance(time.Second)
	poll.Until(t, "the buffered message", func() bool { return moduleStats(p, "out").Handled == 1 })
	stop()
	if got := readLines(t, out); len(got) != 1 || got[0] != "buffered" {
		t.Fatalf("out = %q", got)
	}
}

// confirm: false closes each connection at once (Wishbone's tcpout).
func TestTCPOutWithoutConfirm(t *testing.T) {
	dst := newLineServer(t)
	p, stop := run(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 5, id_prefix: w}}
  out: {module: output.tcp, arguments: {port: %d, confirm: false}}
routingtable:
  - gen.outbox -> out.inbox
`, dst.port), clock.Real(), nil)
	poll.Until(t, "5 messages", func() bool { return dst.count() == 5 })
	stop()
	if s := moduleStats(p, "out"); s.Handled != 5 {
		t.Fatalf("out %+v", s)
	}
}
