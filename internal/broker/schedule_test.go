package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
)

// tickJournal is a memJournal that keeps schedule ticks (journal.Ticker).
type tickJournal struct {
	*memJournal
	mu    sync.Mutex // protects ticks
	ticks map[string]time.Time
}

func newTickJournal() *tickJournal {
	return &tickJournal{memJournal: newMemJournal(), ticks: map[string]time.Time{}}
}

func (j *tickJournal) Tick(name string, at time.Time, _ job.ID) (journal.Commit, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ticks[name] = at
	return doneCommit{}, nil
}

func (j *tickJournal) snapshotTicks() map[string]time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range j.ticks {
		out[k] = v
	}
	return out
}

// schedSet parses a policy file holding schedules.
func schedSet(t *testing.T, src string) *policy.Set {
	t.Helper()
	s, err := policy.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jobsOf returns the ids and bodies of the jobs of tube, in id order.
func jobsOf(t *testing.T, b *Broker, tube string) []JobStats {
	t.Helper()
	js, err := b.ListJobs(tube, 0, 0, 0)
	if err != nil && err != ErrNotFound {
		t.Fatal(err)
	}
	return js
}

func scheduleFile(catchUp string) string {
	return "schedules:\n  beat:\n    cron: \"@every 10m\"\n    tube: beats\n    body: tick\n    priority: 7\n    delay: 30s\n    ttr: 2m\n    catch-up: " + catchUp + "\n"
}

func TestScheduleFires(t *testing.T) {
	b, clk := newTest(t, nil)
	b.SetPolicies(schedSet(t, scheduleFile("skip")))
	if st := b.Schedules(); len(st) != 1 || !st[0].Next.Equal(epoch.Add(10*time.Minute)) || !st[0].Last.IsZero() {
		t.Fatalf("schedules %+v", st)
	}
	clk.Advance(10*time.Minute - time.Second)
	if js := jobsOf(t, b, "beats"); len(js) != 0 {
		t.Fatalf("fired early: %+v", js)
	}
	clk.Advance(time.Second)
	js := jobsOf(t, b, "beats")
	if len(js) != 1 || js[0].Priority != 7 || js[0].TTR != 2*time.Minute || js[0].State != job.Delayed || js[0].TimeLeft != 30*time.Second {
		t.Fatalf("after the first tick: %+v", js)
	}
	if p, err := b.Peek(js[0].ID); err != nil || string(p.Body) != "tick" {
		t.Fatalf("body %q, %v", p.Body, err)
	}
	clk.Advance(25 * time.Minute) // two more ticks, each at its time
	if js := jobsOf(t, b, "beats"); len(js) != 3 {
		t.Fatalf("after 35 minutes %d jobs, want 3", len(js))
	}
	st := b.Schedules()[0]
	if st.Fired != 3 || !st.Last.Equal(epoch.Add(30*time.Minute)) || !st.Next.Equal(epoch.Add(40*time.Minute)) {
		t.Fatalf("status %+v", st)
	}
}

// TestScheduleRestart: a restart neither repeats the last tick in the log
// nor, by the catch-up rule, loses the ones missed while down.
func TestScheduleRestart(t *testing.T) {
	for _, tc := range []struct {
		catchUp  string
		downtime time.Duration
		want     int // jobs put at the start
	}{
		{"skip", 5 * time.Minute, 0},
		{"once", 5 * time.Minute, 0}, // nothing missed
		{"skip", 45 * time.Minute, 0},
		{"once", 45 * time.Minute, 1},
	} {
		j := newTickJournal()
		b1, clk := newTest(t, j)
		b1.SetPolicies(schedSet(t, scheduleFile(tc.catchUp)))
		clk.Advance(10 * time.Minute) // one tick, at epoch+10m
		if n := len(j.snapshot()); n != 1 {
			t.Fatalf("%s: first run logged %d jobs", tc.catchUp, n)
		}
		b1.Close()
		clk.Advance(tc.downtime)
		b2 := New(Config{Clock: clk, Journal: j, Policies: schedSet(t, scheduleFile(tc.catchUp))})
		b2.Restore(j.snapshot(), b1.NextID())
		b2.RestoreTicks(j.snapshotTicks())
		clk.Advance(0)
		if got := len(jobsOf(t, b2, "beats")) - 1; got != tc.want {
			t.Errorf("%s after %v down: %d jobs at start, want %d", tc.catchUp, tc.downtime, got, tc.want)
		}
		// The next regular tick fires as usual.
		next := b2.Schedules()[0].Next
		clk.Set(next)
		if got := len(jobsOf(t, b2, "beats")) - 1; got != tc.want+1 {
			t.Errorf("%s: %d jobs after the next tick at %v, want %d", tc.catchUp, got, next, tc.want+1)
		}
		b2.Close()
	}
}

// TestScheduleDuringDrain: a tick in drain mode waits; when drain mode
// ends it follows the catch-up rule.
func TestScheduleDuringDrain(t *testing.T) {
	for _, tc := range []struct {
		catchUp string
		want    int
	}{{"skip", 0}, {"once", 1}} {
		b, clk := newTest(t, nil)
		b.SetPolicies(schedSet(t, scheduleFile(tc.catchUp)))
		b.SetDraining(true)
		clk.Advance(35 * time.Minute) // three ticks in drain mode
		if js := jobsOf(t, b, "beats"); len(js) != 0 {
			t.Fatalf("%s: %d jobs put in drain mode", tc.catchUp, len(js))
		}
		if st := b.Schedules()[0]; !st.Next.IsZero() {
			t.Fatalf("%s: next %v shown in drain mode", tc.catchUp, st.Next)
		}
		b.SetDraining(false)
		clk.Advance(0)
		if got := len(jobsOf(t, b, "beats")); got != tc.want {
			t.Fatalf("%s: %d jobs when drain ended, want %d", tc.catchUp, got, tc.want)
		}
		clk.Advance(10 * time.Minute) // @every counts from the end of drain mode
		if got := len(jobsOf(t, b, "beats")); got != tc.want+1 {
			t.Fatalf("%s: %d jobs after the next tick, want %d", tc.catchUp, got, tc.want+1)
		}
	}
}

// TestScheduleReload: an unchanged schedule keeps its plan, a changed one
// goes on from its next tick, a removed one stops.
func TestScheduleReload(t *testing.T) {
	b, clk := newTest(t, nil)
	b.SetPolicies(schedSet(t, scheduleFile("skip")))
	clk.Advance(5 * time.Minute)
	b.SetPolicies(schedSet(t, scheduleFile("skip")))
	if st := b.Schedules()[0]; !st.Next.Equal(epoch.Add(10 * time.Minute)) {
		t.Fatalf("unchanged schedule replanned: %+v", st)
	}
	b.SetPolicies(schedSet(t, "schedules:\n  beat:\n    cron: \"@every 1h\"\n    tube: beats\n"))
	if st := b.Schedules()[0]; !st.Next.Equal(epoch.Add(65*time.Minute)) || st.Cron != "@every 1h" {
		t.Fatalf("changed schedule: %+v", st)
	}
	b.SetPolicies(nil)
	clk.Advance(2 * time.Hour)
	if len(b.Schedules()) != 0 || len(jobsOf(t, b, "beats")) != 0 {
		t.Fatal("a removed schedule fired")
	}
}

func TestScheduleCronTimezone(t *testing.T) {
	b, clk := newTest(t, nil) // epoch is 2026-01-02 03:04:05 UTC
	b.SetPolicies(schedSet(t, "schedules:\n  morning:\n    cron: \"30 9 * * *\"\n    timezone: America/New_York\n    tube: m\n"))
	want := time.Date(2026, 1, 2, 14, 30, 0, 0, time.UTC) // 09:30 EST
	if st := b.Schedules()[0]; !st.Next.Equal(want) || st.Timezone != "America/New_York" {
		t.Fatalf("next %v, want %v", st.Next, want)
	}
	clk.Set(want)
	if len(jobsOf(t, b, "m")) != 1 {
		t.Fatal("did not fire at 09:30 New York time")
	}
}
