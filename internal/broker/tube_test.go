package broker

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestTubeLifecycle(t *testing.T) {
	b, _ := newTest(t, nil)
	if got := b.ListTubes(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("initial tubes %v", got)
	}
	s := open(t, b)
	s.Use("a")
	if n := s.Watch("b"); n != 2 {
		t.Fatalf("watch = %d", n)
	}
	if n := s.Watch("b"); n != 2 {
		t.Fatalf("watch twice = %d", n)
	}
	if got := b.ListTubes(); !slices.Equal(got, []string{"default", "a", "b"}) {
		t.Fatalf("tubes %v", got)
	}
	ts, _ := b.StatsTube("a")
	if ts.CurrentUsing != 1 || ts.CurrentWatching != 0 {
		t.Fatalf("stats-tube a: %+v", ts)
	}
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	s.Use("default")
	if _, err := b.StatsTube("a"); err != nil {
		t.Fatal("tube with a job was removed")
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StatsTube("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty unused tube still there: %v", err)
	}
	if n, err := s.Ignore("b"); n != 1 || err != nil {
		t.Fatalf("ignore b = %d %v", n, err)
	}
	if n, err := s.Ignore("nothere"); n != 1 || err != nil {
		t.Fatalf("ignore unwatched = %d %v", n, err)
	}
	if n, err := s.Ignore("default"); n != 1 || !errors.Is(err, ErrNotIgnored) {
		t.Fatalf("ignore last = %d %v", n, err)
	}
	if got := b.ListTubes(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("tubes after ignore %v", got)
	}
	// "default" survives with nobody on it
	s.Use("c")
	s.Watch("c")
	s.Ignore("default")
	if got := b.ListTubes(); !slices.Equal(got, []string{"default", "c"}) {
		t.Fatalf("tubes %v", got)
	}
	if got := s.Watched(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("watched %v", got)
	}
	if s.Used() != "c" {
		t.Fatalf("used %q", s.Used())
	}
	s.Close()
	if got := b.ListTubes(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("tubes after close %v", got)
	}
	if st := b.Stats(); st.CurrentTubes != 1 {
		t.Fatalf("current-tubes %d", st.CurrentTubes)
	}
}

func TestReservedJobKeepsTube(t *testing.T) {
	b, _ := newTest(t, nil)
	p := open(t, b)
	p.Use("work")
	id := mustPut(t, p, 0, 0, time.Minute, "x")
	p.Use("default")
	w := open(t, b)
	w.Watch("work")
	mustReserve(t, w, id)
	w.Ignore("work")
	if _, err := b.StatsTube("work"); err != nil {
		t.Fatal("tube of a reserved job was removed")
	}
	if err := w.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StatsTube("work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tube kept: %v", err)
	}
}

func TestDrain(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	b.SetDraining(true)
	if _, err := s.Put(0, 0, time.Minute, nil); !errors.Is(err, ErrDraining) {
		t.Fatalf("put while draining: %v", err)
	}
	if !b.Stats().Draining {
		t.Fatal("stats draining false")
	}
	mustReserve(t, s, id) // everything but put still works
	b.SetDraining(false)
	// like beanstalkd, the refused put used up an id
	if got := mustPut(t, s, 0, 0, time.Minute, "y"); got != 3 {
		t.Fatalf("id after a drained put = %d, want 3", got)
	}
}

func TestCounters(t *testing.T) {
	b, clk := newTest(t, nil)
	p1, p2, w := open(t, b), open(t, b), open(t, b)
	mustPut(t, p1, 1023, 0, time.Minute, "urgent")
	mustPut(t, p1, 1024, 0, time.Minute, "not urgent")
	mustPut(t, p2, 0, time.Minute, time.Minute, "delayed")
	st := b.Stats()
	want := ServerStats{
		CurrentJobsUrgent: 1, CurrentJobsReady: 2, CurrentJobsDelayed: 1,
		TotalJobs: 3, CurrentTubes: 1, CurrentConnections: 3, CurrentProducers: 2,
		TotalConnections: 3,
	}
	if st != want {
		t.Fatalf("stats\n got %+v\nwant %+v", st, want)
	}
	mustReserve(t, w, 1)
	ts, _ := b.StatsTube("default")
	if ts.CurrentJobsUrgent != 0 || ts.CurrentJobsReady != 1 || ts.CurrentJobsReserved != 1 || ts.CurrentJobsDelayed != 1 || ts.TotalJobs != 3 || ts.CurrentUsing != 3 || ts.CurrentWatching != 3 {
		t.Fatalf("stats-tube %+v", ts)
	}
	if st := b.Stats(); st.CurrentWorkers != 1 || st.CurrentJobsUrgent != 0 {
		t.Fatalf("stats %+v", st)
	}
	clk.Advance(90 * time.Second)
	js, _ := b.StatsJob(3)
	if js.Age != 90*time.Second || js.State.String() != "ready" || js.Size != len("delayed") {
		t.Fatalf("stats-job %+v", js)
	}
	if st := b.Stats(); st.Uptime != 90*time.Second || st.JobTimeouts != 1 {
		t.Fatalf("uptime/timeouts %+v", st)
	}
}

func TestPeekAndIDs(t *testing.T) {
	b, _ := newTest(t, nil)
	if b.MaxJobSize() != 65535 {
		t.Fatalf("default max job size %d", b.MaxJobSize())
	}
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "body")
	mustReserve(t, s, id)
	p, err := b.Peek(id) // any state, reserved included
	if err != nil || p.ID != id || string(p.Body) != "body" {
		t.Fatalf("peek = %+v %v", p, err)
	}
	if _, err := b.Peek(id + 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("peek missing: %v", err)
	}
	for _, f := range []func(string) (Peeked, error){b.PeekReady, b.PeekDelayed, b.PeekBuried} {
		if _, err := f("nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("peek in missing tube: %v", err)
		}
		if _, err := f("default"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("peek in tube without such jobs: %v", err)
		}
	}
	if b.NextID() != id {
		t.Fatalf("next id %d", b.NextID())
	}
	names := map[FailAction]string{FailRetry: "retry", FailBuried: "buried", FailDeadLettered: "dead-letter", FailDeleted: "deleted", 0: "invalid"}
	for a, want := range names {
		if a.String() != want {
			t.Fatalf("%d.String() = %q", a, a.String())
		}
	}
}
