package wal

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// quiet is a logger for tests that expect no warnings.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is a fixed time for jobs in tests.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func testOptions(dir string) Options {
	return Options{Dir: dir, Fsync: FsyncNever, SegmentSize: MinSegmentSize, BuriedSegmentSize: MinSegmentSize, Logger: quiet}
}

func openLog(t *testing.T, o Options) (*Log, *Recovery) {
	t.Helper()
	l, rec, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rec
}

func mustClose(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func newJob(id job.ID, body string) *job.Job {
	return &job.Job{ID: id, Tube: "default", Priority: 1024, TTR: time.Minute, Body: []byte(body), State: job.Ready, Created: t0}
}

func wait(t *testing.T, c interface{ Wait() error }, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

// jobsByID indexes recovered jobs.
func jobsByID(rec *Recovery) map[job.ID]*job.Job {
	m := make(map[job.ID]*job.Job)
	for _, j := range rec.Jobs {
		m[j.ID] = j
	}
	return m
}

func sameJob(t *testing.T, got, want *job.Job) {
	t.Helper()
	g, w := *got, *want
	if !g.Created.Equal(w.Created) || !g.Deadline.Equal(w.Deadline) {
		t.Fatalf("job %d times: got created %v deadline %v, want %v %v", w.ID, g.Created, g.Deadline, w.Created, w.Deadline)
	}
	g.Created, w.Created, g.Deadline, w.Deadline = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if (g.Failure == nil) != (w.Failure == nil) {
		t.Fatalf("job %d failure: got %+v want %+v", w.ID, g.Failure, w.Failure)
	}
	if g.Failure != nil {
		gf, wf := *g.Failure, *w.Failure
		for _, p := range []*[2]time.Time{{gf.FirstAt, wf.FirstAt}, {gf.LastAt, wf.LastAt}, {gf.RetryFrom, wf.RetryFrom}, {gf.KickedAt, wf.KickedAt}} {
			if !p[0].Equal(p[1]) {
				t.Fatalf("job %d failure times differ: %+v vs %+v", w.ID, gf, wf)
			}
		}
		gf.FirstAt, gf.LastAt, gf.RetryFrom, gf.KickedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		wf.FirstAt, wf.LastAt, wf.RetryFrom, wf.KickedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if gf != wf {
			t.Fatalf("job %d failure: got %+v want %+v", w.ID, gf, wf)
		}
		g.Failure, w.Failure = nil, nil
	}
	if !bytes.Equal(g.Body, w.Body) {
		t.Fatalf("job %d body: got %q want %q", w.ID, g.Body, w.Body)
	}
	g.Body, w.Body = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("job %d:\n got %+v\nwant %+v", w.ID, g, w)
	}
}

func TestReopenRestoresEveryField(t *testing.T) {
	dir := t.TempDir()
	l, rec := openLog(t, testOptions(dir))
	if len(rec.Jobs) != 0 || rec.NextID != 1 {
		t.Fatalf("fresh directory: %d jobs, next id %d", len(rec.Jobs), rec.NextID)
	}
	a := newJob(1, "alpha")
	b := newJob(2, "beta")
	c := newJob(3, "gamma")
	for _, j := range []*job.Job{a, b, c} {
		cm, err := l.Put(j)
		wait(t, cm, err)
	}
	// a: delayed with an absolute deadline and a failure history.
	a.State, a.Delay, a.Deadline, a.Releases, a.Reserves, a.Priority = job.Delayed, time.Hour, t0.Add(time.Hour), 1, 1, 7
	a.Failure = &job.Failure{Attempts: 2, FirstError: "boom", LastError: "bang", FirstAt: t0, LastAt: t0.Add(time.Minute), RetryFrom: t0, Origin: "in", GaveUp: "", Kicks: 1, KickedAt: t0}
	cm, err := l.Update(a)
	wait(t, cm, err)
	// b: buried (moves to the buried store).
	b.State, b.Buries, b.Deadline = job.Buried, 1, t0
	cm, err = l.Update(b)
	wait(t, cm, err)
	// c: deleted.
	cm, err = l.Delete(3)
	wait(t, cm, err)
	mustClose(t, l)

	l, rec = openLog(t, testOptions(dir))
	defer mustClose(t, l)
	// The first put wrote the id high-water mark a step ahead.
	if rec.NextID != 1+idStep {
		t.Fatalf("next id %d, want %d", rec.NextID, 1+idStep)
	}
	got := jobsByID(rec)
	if len(got) != 2 || got[3] != nil {
		t.Fatalf("recovered %d jobs (%v), want 1 and 2", len(got), got)
	}
	sameJob(t, got[1], a)
	sameJob(t, got[2], b)
	st := l.Stats()
	if st.Buried.LiveBytes == 0 {
		t.Fatalf("buried job not in the buried store: %+v", st.Buried)
	}
}

func TestIDsNeverReusedAfterEverythingIsDeleted(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, _ := openLog(t, o)
	body := string(bytes.Repeat([]byte("x"), 1000))
	// Enough puts to fill several segments, all deleted: compaction
	// removes every segment that held them (Sync returns once the
	// compaction due is done; Close alone may stop the writer before).
	for id := job.ID(1); id <= 500; id++ {
		cm, err := l.Put(newJob(id, body))
		wait(t, cm, err)
		cm, err = l.Delete(id)
		wait(t, cm, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := l.Stats().Hot.Segments; n > 2 {
		t.Fatalf("%d hot segments after deleting everything and Sync, want at most 2", n)
	}
	mustClose(t, l)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != 0 || rec.NextID != 1+idStep {
		t.Fatalf("got %d jobs, next id %d; want 0 and %d", len(rec.Jobs), rec.NextID, 1+idStep)
	}
	if n := l.Stats().Hot.Segments; n > 2 {
		t.Fatalf("%d hot segments after deleting everything, want at most 2", n)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, testOptions(dir))
	defer mustClose(t, l)
	_, _, err := Open(testOptions(dir))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if want := filepath.Clean(dir); !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("error %q does not name the directory", err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	l, _ := openLog(t, testOptions(t.TempDir()))
	mustClose(t, l)
	if _, err := l.Put(newJob(1, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
}

func TestParseFsync(t *testing.T) {
	for _, tc := range []struct {
		in     string
		policy FsyncPolicy
		d      time.Duration
		bad    bool
	}{
		{"always", FsyncAlways, 0, false},
		{"never", FsyncNever, 0, false},
		{"interval", FsyncInterval, 50 * time.Millisecond, false},
		{"interval=200ms", FsyncInterval, 200 * time.Millisecond, false},
		{"interval=10", FsyncInterval, 10 * time.Millisecond, false},
		{"interval=0", 0, 0, true},
		{"interval=x", 0, 0, true},
		{"always=1", 0, 0, true},
		{"sometimes", 0, 0, true},
	} {
		p, d, err := ParseFsync(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (p != tc.policy || d != tc.d)) {
			t.Errorf("ParseFsync(%q) = %v, %v, %v", tc.in, p, d, err)
		}
	}
}

var _ = fmt.Sprint

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		enabled bool
		policy  FsyncPolicy
		size    int64
		bad     string
	}{
		{nil, true, FsyncInterval, 16 << 20, ""},
		{[]string{"--data", ""}, false, 0, 0, ""},
		{[]string{"--no-log"}, false, 0, 0, ""},
		{[]string{"--fsync", "always", "--segment-size", "1m"}, true, FsyncAlways, 1 << 20, ""},
		{[]string{"--fsync", "sometimes"}, false, 0, 0, "--fsync"},
		{[]string{"--segment-size", "12q"}, false, 0, 0, "--segment-size"},
		{[]string{"--segment-size", "64k"}, false, 0, 0, "raise --segment-size"},
	} {
		var f Flags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		o, enabled, err := f.Options(quiet, 65535)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.bad)
			}
			continue
		}
		if err != nil || enabled != tc.enabled || (enabled && (o.Fsync != tc.policy || o.SegmentSize != tc.size)) {
			t.Errorf("%v: %+v %v %v", tc.args, o, enabled, err)
		}
	}
}
