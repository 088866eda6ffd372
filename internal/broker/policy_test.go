package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/retry"
)

// doubling retries after 10 s, 20 s, 40 s ... and gives up after max
// attempts.
func doubling(max int) *retry.Schedule {
	return &retry.Schedule{Initial: 10 * time.Second, Factor: 2, Cap: 1 << 40, MaxAttempts: max}
}

// policyFor returns a Policies giving p to the tubes named, none to others.
func policyFor(p *policy.Policy, tubes ...string) policyLookup {
	return func(name string) *policy.Policy {
		for _, t := range tubes {
			if t == name {
				return p
			}
		}
		return nil
	}
}

// syncBuffer is a log sink safe for the timer goroutine.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimSpace(s.b.String()), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

func newPolicyTest(t *testing.T, p policyLookup, j journal.Journal) (*Broker, *Session, *syncBuffer, func(time.Duration)) {
	t.Helper()
	logs := &syncBuffer{}
	b, clk := newTest(t, j)
	b.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	b.setLookup(p)
	s := open(t, b)
	s.Use("work")
	s.Watch("work")
	s.Ignore("default")
	return b, s, logs, clk.Advance
}

func TestFailWithoutPolicyBuries(t *testing.T) {
	b, s, _, _ := newPolicyTest(t, nil, nil)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	res, err := s.Fail(id, "boom")
	if err != nil || res.Action != FailBuried || res.Attempts != 1 {
		t.Fatalf("fail = %+v %v", res, err)
	}
	js, _ := b.StatsJob(id)
	f := js.Failure
	if js.State != job.Buried || f.Attempts != 1 || f.FirstError != "boom" || f.LastError != "boom" ||
		f.Origin != "work" || f.GaveUp != "buried" || !f.FirstAt.Equal(epoch) {
		t.Fatalf("stats-job %+v", js)
	}
	// A buried job is held by nobody: it may be failed (as deleted) by
	// any session; the failure is counted and the job buried again.
	other := open(t, b)
	res, err = other.Fail(id, "again")
	if err != nil || res.Action != FailBuried || res.Attempts != 2 {
		t.Fatalf("fail of a buried job = %+v %v, want buried after 2 attempts", res, err)
	}
	if js, _ := b.StatsJob(id); js.State != job.Buried || js.Failure.LastError != "again" || js.Failure.FirstError != "boom" {
		t.Fatalf("stats-job after failing a buried job %+v", js)
	}
	// A job another session holds is not found.
	id2 := mustPut(t, s, 0, 0, time.Minute, "y")
	mustReserve(t, s, id2)
	if _, err := other.Fail(id2, "not mine"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fail of a job another session reserved: %v", err)
	}
	if js, _ := b.StatsJob(id2); js.State != job.Reserved || js.Failure.Attempts != 0 {
		t.Fatalf("a foreign fail changed the job: %+v", js)
	}
	if _, err := other.Fail(99, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fail of no job: %v", err)
	}
	checkInvariants(t, b)
}

func TestFailRetriesThenGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   policy.Policy
		want     FailAction
		wantTube string
	}{
		{"bury", policy.Policy{Retry: doubling(3), GiveUp: policy.GiveUp{Action: policy.Bury}}, FailBuried, "work"},
		{"dead letter", policy.Policy{Retry: doubling(3), GiveUp: policy.GiveUp{Action: policy.DeadLetter, Tube: "dead"}}, FailDeadLettered, "dead"},
		{"delete", policy.Policy{Retry: doubling(3), GiveUp: policy.GiveUp{Action: policy.Delete}}, FailDeleted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemJournal()
			b, s, logs, advance := newPolicyTest(t, policyFor(&tc.policy, "work"), m)
			id := mustPut(t, s, 0, 0, time.Minute, "x")
			for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
				mustReserve(t, s, id)
				res, err := s.Fail(id, "err "+itoa(job.ID(i+1)))
				at := b.now().Add(wait)
				if err != nil || res.Action != FailRetry || !res.At.Equal(at) || res.Attempts != uint32(i+1) {
					t.Fatalf("failure %d = %+v %v, want retry at %v", i+1, res, err, at)
				}
				js, _ := b.StatsJob(id)
				if js.State != job.Delayed || js.TimeLeft != wait {
					t.Fatalf("after failure %d: %+v", i+1, js)
				}
				if _, err := reserveNow(t, s); !errors.Is(err, ErrTimedOut) {
					t.Fatalf("retry ready too early: %v", err)
				}
				advance(wait)
			}
			mustReserve(t, s, id)
			res, err := s.Fail(id, "final")
			if err != nil || res.Action != tc.want || res.Tube != tc.policy.GiveUp.Tube || res.Attempts != 3 {
				t.Fatalf("last failure = %+v %v", res, err)
			}
			ts, _ := b.StatsTube("work")
			if st := b.Stats(); st.Failures != 3 || st.GaveUp != 1 || ts.Failures != 3 || ts.GaveUp != 1 {
				t.Fatalf("counters: server %+v tube %+v", st, ts)
			}
			if tc.want == FailDeleted {
				if _, err := b.StatsJob(id); !errors.Is(err, ErrNotFound) {
					t.Fatalf("deleted job still there")
				}
				if got := logs.lines(); len(got) != 1 || !strings.Contains(got[0], "job deleted by its failure policy") || !strings.Contains(got[0], "last_error=final") {
					t.Fatalf("log %q", got)
				}
				return
			}
			js, _ := b.StatsJob(id)
			f := js.Failure
			if js.State != job.Buried || js.Tube != tc.wantTube || f.Origin != "work" || f.Attempts != 3 ||
				f.FirstError != "err 1" || f.LastError != "final" || !f.FirstAt.Equal(epoch) || !f.LastAt.Equal(epoch.Add(30*time.Second)) {
				t.Fatalf("gave up: %+v", js)
			}
			// the history is in the log, so it survives a restart
			logged := m.jobs[id]
			if logged.Failure == nil || *logged.Failure != f || logged.Tube != tc.wantTube || logged.State != job.Buried {
				t.Fatalf("journaled %+v", logged)
			}
		})
	}
}

func TestTTRExpiryIsAFailureWithRetryPolicy(t *testing.T) {
	p := &policy.Policy{Retry: doubling(5)}
	b, s, _, advance := newPolicyTest(t, policyFor(p, "work"), nil)
	id := mustPut(t, s, 0, 0, 5*time.Second, "x")
	mustReserve(t, s, id)
	advance(5 * time.Second)
	js, _ := b.StatsJob(id)
	if js.State != job.Delayed || js.Timeouts != 1 || js.Failure.Attempts != 1 || js.Failure.LastError != TimeoutError || js.TimeLeft != 10*time.Second {
		t.Fatalf("after TTR: %+v", js)
	}
	if st := b.Stats(); st.JobTimeouts != 1 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}

	// a tube with a policy but no retry schedule keeps beanstalkd's TTR
	b.setLookup(policyFor(&policy.Policy{Retention: policy.Retention{MaxCount: 10}}, "work"))
	advance(10 * time.Second)
	mustReserve(t, s, id)
	advance(5 * time.Second)
	if js, _ := b.StatsJob(id); js.State != job.Ready || js.Failure.Attempts != 1 {
		t.Fatalf("TTR without retry schedule: %+v", js)
	}
}

func TestReleaseKeepsClientDelayWithPolicy(t *testing.T) {
	p := &policy.Policy{Retry: doubling(5)}
	b, s, _, _ := newPolicyTest(t, policyFor(p, "work"), nil)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	if err := s.Release(id, 0, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if js, _ := b.StatsJob(id); js.TimeLeft != 3*time.Second || js.Failure.Attempts != 0 {
		t.Fatalf("release: %+v", js)
	}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name    string
		policy  policy.Policy
		bury    int
		advance time.Duration
		left    int
		logged  string
	}{
		{"count", policy.Policy{Retention: policy.Retention{MaxCount: 2}}, 3, 0, 2, "buried job expired by retention count"},
		{"bytes", policy.Policy{Retention: policy.Retention{MaxBytes: 6}}, 3, 0, 2, "buried job expired by retention size"},
		{"age", policy.Policy{Retention: policy.Retention{MaxAge: time.Hour}}, 3, time.Hour, 0, "buried job expired by retention age 1h0m0s"},
		{"age not yet", policy.Policy{Retention: policy.Retention{MaxAge: time.Hour}}, 2, time.Hour - 1, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemJournal()
			b, s, logs, advance := newPolicyTest(t, policyFor(&tc.policy, "work"), m)
			var ids []job.ID
			for i := 0; i < tc.bury; i++ {
				id := mustPut(t, s, 0, 0, time.Minute, "abc")
				mustReserve(t, s, id)
				if err := s.Bury(id, 0); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			advance(tc.advance)
			ts, _ := b.StatsTube("work")
			expired := tc.bury - tc.left
			if ts.CurrentJobsBuried != tc.left || ts.Expired != uint64(expired) || b.Stats().Expired != uint64(expired) || ts.BuriedBytes != 3*tc.left {
				t.Fatalf("stats-tube %+v", ts)
			}
			for i, id := range ids {
				_, err := b.StatsJob(id)
				if gone := i < expired; gone != errors.Is(err, ErrNotFound) {
					t.Fatalf("job %d gone=%v, err %v (oldest burials go first)", id, gone, err)
				}
				if _, inLog := m.jobs[id]; inLog == (i < expired) {
					t.Fatalf("job %d in log = %v", id, inLog)
				}
			}
			got := logs.lines()
			if len(got) != expired {
				t.Fatalf("log lines %q, want %d", got, expired)
			}
			for _, l := range got {
				if !strings.Contains(l, tc.logged) || !strings.Contains(l, "tube=work") {
					t.Fatalf("log line %q", l)
				}
			}
		})
	}
}

func TestRetentionFloodLogsOneSummary(t *testing.T) {
	p := &policy.Policy{Retention: policy.Retention{MaxAge: time.Minute}}
	b, s, logs, advance := newPolicyTest(t, policyFor(p, "work"), nil)
	for i := 0; i < 50; i++ {
		id := mustPut(t, s, 0, 0, time.Minute, "x")
		mustReserve(t, s, id)
		s.Bury(id, 0)
	}
	advance(time.Minute)
	got := logs.lines()
	if len(got) != 1 || !strings.Contains(got[0], "count=50") || !strings.Contains(got[0], "lowest_id=1") || !strings.Contains(got[0], "highest_id=50") {
		t.Fatalf("log %q", got)
	}
	if b.Stats().Expired != 50 {
		t.Fatal("not counted")
	}
}

func TestReadyExpiry(t *testing.T) {
	p := &policy.Policy{ReadyExpiry: time.Minute, GiveUp: policy.GiveUp{Action: policy.DeadLetter, Tube: "late"}}
	b, s, logs, advance := newPolicyTest(t, policyFor(p, "work"), nil)
	stale := mustPut(t, s, 0, 0, time.Minute, "stale")
	fresh := mustPut(t, s, 0, 30*time.Second, time.Minute, "fresh") // ready at 30 s
	taken := mustPut(t, s, 0, 0, time.Minute, "taken")
	if _, err := s.ReserveJob(taken); err != nil {
		t.Fatal(err)
	}
	advance(time.Minute - 1)
	if js, _ := b.StatsJob(stale); js.State != job.Ready {
		t.Fatalf("expired early: %+v", js)
	}
	advance(1)
	js, _ := b.StatsJob(stale)
	if js.State != job.Buried || js.Tube != "late" || js.Failure.Origin != "work" ||
		js.Failure.LastError != "ready-expiry: not reserved within 1m0s" || js.Failure.Attempts != 0 {
		t.Fatalf("expired job: %+v", js)
	}
	if js, _ := b.StatsJob(fresh); js.State != job.Ready {
		t.Fatalf("fresh job: %+v", js)
	}
	if err := s.Delete(taken); err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Second)
	if js, _ := b.StatsJob(fresh); js.State != job.Buried {
		t.Fatalf("fresh job after its window: %+v", js)
	}
	ts, _ := b.StatsTube("work")
	if ts.Expired != 2 || ts.GaveUp != 2 {
		t.Fatalf("stats-tube %+v", ts)
	}
	if got := logs.lines(); len(got) != 2 || !strings.Contains(got[0], "ready job expired") {
		t.Fatalf("log %q", got)
	}
}

func TestKickBuriedByErrorAndReset(t *testing.T) {
	for _, resets := range []bool{true, false} {
		p := &policy.Policy{Retry: doubling(2), KickResetsAttempts: resets}
		b, s, _, advance := newPolicyTest(t, policyFor(p, "work"), nil)
		fail := func(id job.ID, text string) {
			t.Helper()
			mustReserve(t, s, id)
			if _, err := s.Fail(id, text); err != nil {
				t.Fatal(err)
			}
		}
		a := mustPut(t, s, 0, 0, time.Minute, "a")
		c := mustPut(t, s, 0, 0, time.Minute, "c")
		fail(a, "db: connection refused")
		fail(c, "parse error")
		advance(10 * time.Second)
		fail(a, "db: connection refused")
		fail(c, "parse error")
		if ts, _ := b.StatsTube("work"); ts.CurrentJobsBuried != 2 {
			t.Fatalf("buried %d", ts.CurrentJobsBuried)
		}
		n, err := b.KickBuried("work", "connection refused", 10)
		if err != nil || n != 1 {
			t.Fatalf("kick by error = %d %v", n, err)
		}
		js, _ := b.StatsJob(a)
		wantAttempts := uint32(2)
		if resets {
			wantAttempts = 0
		}
		if js.State != job.Ready || js.Kicks != 1 || js.Failure.Kicks != 1 || js.Failure.Attempts != wantAttempts ||
			!js.Failure.KickedAt.Equal(epoch.Add(10*time.Second)) || js.Failure.FirstError != "db: connection refused" {
			t.Fatalf("resets=%v kicked: %+v", resets, js)
		}
		// the next failure retries again only if the kick reset the count
		mustReserve(t, s, a)
		res, _ := s.Fail(a, "db: connection refused")
		if want := map[bool]FailAction{true: FailRetry, false: FailBuried}[resets]; res.Action != want {
			t.Fatalf("resets=%v after kick: %v, want %v", resets, res.Action, want)
		}
		if _, err := b.KickBuried("nope", "", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing tube: %v", err)
		}
		if n, _ := b.KickBuried("work", "", 10); n != map[bool]int{true: 1, false: 2}[resets] {
			t.Fatalf("kick all buried = %d", n)
		}
	}
}

func TestListJobs(t *testing.T) {
	b, s, _, _ := newPolicyTest(t, nil, nil)
	for i := 0; i < 5; i++ {
		mustPut(t, s, 0, 0, time.Minute, "r")
	}
	d := mustPut(t, s, 0, time.Hour, time.Minute, "d")
	mustReserve(t, s, 1)
	if err := s.Bury(1, 0); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, s, 2)
	ids := func(js []JobStats) []job.ID {
		var out []job.ID
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	for _, tc := range []struct {
		st    job.State
		after job.ID
		limit int
		want  []job.ID
	}{
		{0, 0, 0, []job.ID{1, 2, 3, 4, 5, d}},
		{job.Ready, 0, 2, []job.ID{3, 4}},
		{job.Ready, 4, 2, []job.ID{5}},
		{job.Ready, 5, 2, nil},
		{job.Buried, 0, 10, []job.ID{1}},
		{job.Delayed, 0, 10, []job.ID{d}},
		{job.Reserved, 0, 10, []job.ID{2}},
	} {
		js, err := b.ListJobs("work", tc.st, tc.after, tc.limit)
		if err != nil || !equalIDs(ids(js), tc.want) {
			t.Fatalf("list %v after %d limit %d = %v %v, want %v", tc.st, tc.after, tc.limit, ids(js), err, tc.want)
		}
	}
	if js, _ := b.ListJobs("work", job.Reserved, 0, 1); js[0].State != job.Reserved || js[0].Reserves != 1 {
		t.Fatalf("listing changed or misreported the job: %+v", js[0])
	}
	if _, err := b.ListJobs("nope", 0, 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tube: %v", err)
	}
}

func equalIDs(a, b []job.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFlush(t *testing.T) {
	m := newMemJournal()
	b, s, _, _ := newPolicyTest(t, nil, m)
	for i := 0; i < 3; i++ {
		mustPut(t, s, 0, 0, time.Minute, "r")
	}
	mustPut(t, s, 0, time.Hour, time.Minute, "d")
	mustReserve(t, s, 1)
	s.Bury(1, 0)
	mustReserve(t, s, 2)
	if n, err := b.Flush("work", job.Delayed); n != 1 || err != nil {
		t.Fatalf("flush delayed = %d %v", n, err)
	}
	if n, err := b.Flush("work", job.Buried); n != 1 || err != nil {
		t.Fatalf("flush buried = %d %v", n, err)
	}
	if st := b.Stats(); st.CurrentJobsReady != 1 || st.CurrentJobsReserved != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n, err := b.Flush("work", 0); n != 2 || err != nil {
		t.Fatalf("flush all = %d %v", n, err)
	}
	if err := s.Delete(2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("worker's delete after flush: %v", err)
	}
	if len(m.jobs) != 0 {
		t.Fatalf("log still has %d jobs", len(m.jobs))
	}
	if _, err := b.Flush("nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tube: %v", err)
	}
}

func TestSetPoliciesKeepsEveryJob(t *testing.T) {
	b, s, _, advance := newPolicyTest(t, nil, nil)
	for i := 0; i < 4; i++ {
		mustPut(t, s, 0, 0, time.Minute, "x")
	}
	mustPut(t, s, 0, time.Minute, time.Minute, "d")
	mustReserve(t, s, 1)
	s.Bury(1, 0)
	mustReserve(t, s, 2)
	before := b.Stats()
	b.setLookup(policyFor(&policy.Policy{Retry: doubling(9), ReadyExpiry: time.Hour}, "work"))
	after := b.Stats()
	if before.CurrentJobsReady != after.CurrentJobsReady || before.CurrentJobsBuried != after.CurrentJobsBuried ||
		before.CurrentJobsReserved != after.CurrentJobsReserved || before.CurrentJobsDelayed != after.CurrentJobsDelayed {
		t.Fatalf("reload changed jobs:\n%+v\n%+v", before, after)
	}
	// the new policy applies to the job reserved before the reload
	res, err := s.Fail(2, "x")
	if err != nil || res.Action != FailRetry {
		t.Fatalf("fail after reload = %+v %v", res, err)
	}
	// ready-expiry counts from the reload for jobs already ready (3 and
	// 4), from when they become ready for the others (2 at 10 s, 5 at 1 m)
	advance(time.Hour)
	if ts, _ := b.StatsTube("work"); ts.CurrentJobsReady != 2 || ts.Expired != 2 {
		t.Fatalf("after window: %+v", ts)
	}
	advance(time.Minute)
	if ts, _ := b.StatsTube("work"); ts.CurrentJobsReady != 0 || ts.Expired != 4 {
		t.Fatalf("after window: %+v", ts)
	}
	b.setLookup(nil)
	id := mustPut(t, s, 0, 0, time.Minute, "y")
	mustReserve(t, s, id)
	if res, _ := s.Fail(id, "z"); res.Action != FailBuried {
		t.Fatalf("no policy: %v", res.Action)
	}
}

func TestDeadLetterKickGoesBackToOrigin(t *testing.T) {
	p := &policy.Policy{GiveUp: policy.GiveUp{Action: policy.DeadLetter, Tube: "dead"}}
	b, s, _, _ := newPolicyTest(t, policyFor(p, "work"), nil)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	if res, _ := s.Fail(id, "bad"); res.Action != FailDeadLettered || res.Tube != "dead" {
		t.Fatalf("fail = %+v", res)
	}
	if n, err := b.KickBuried("dead", "bad", 5); n != 1 || err != nil {
		t.Fatalf("kick = %d %v", n, err)
	}
	js, _ := b.StatsJob(id)
	if js.Tube != "work" || js.State != job.Ready || js.Failure.Origin != "work" || js.Failure.Kicks != 1 {
		t.Fatalf("kicked dead letter: %+v", js)
	}
	if _, err := b.StatsTube("dead"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty dead-letter tube kept: %v", err)
	}
	mustReserve(t, s, id)
}

// TestPolicySet runs the engine with a policy.Set as the server builds it.
func TestPolicySet(t *testing.T) {
	sched := retry.Schedule{Initial: 10 * time.Second, Factor: 2, Cap: time.Minute, MaxAttempts: 3}
	set := policy.NewSet(map[string]*policy.Policy{
		"work": {Retry: &sched, GiveUp: policy.GiveUp{Action: policy.DeadLetter, Tube: "dead"},
			Retention: policy.Retention{MaxCount: 5}},
		"dead": {Retention: policy.Retention{MaxCount: 1}},
	}, nil)
	clk := clock.NewFake(epoch)
	b := New(Config{Clock: clk, Policies: set})
	defer b.Close()
	s := b.Open()
	defer s.Close()
	s.Use("work")
	s.Watch("work")
	var ids []job.ID
	for i := 0; i < 2; i++ {
		ids = append(ids, mustPut(t, s, 0, 0, time.Minute, "x"))
	}
	for _, id := range ids {
		var got []string
		for _, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 0} {
			mustReserve(t, s, id)
			res, err := s.Fail(id, "e")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res.Action.String())
			clk.Advance(wait)
		}
		if want := []string{"retry", "retry", "dead-letter"}; !equalStrings(got, want) {
			t.Fatalf("job %d: %v, want %v", id, got, want)
		}
	}
	// the dead-letter tube keeps one: the first dead letter expired
	ts, _ := b.StatsTube("dead")
	if ts.CurrentJobsBuried != 1 || ts.Expired != 1 {
		t.Fatalf("dead tube %+v", ts)
	}
	if _, err := b.StatsJob(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest dead letter kept: %v", err)
	}
	b.SetPolicies(nil)
	id := mustPut(t, s, 0, 0, time.Second, "y")
	mustReserve(t, s, id)
	clk.Advance(time.Second)
	if js, _ := b.StatsJob(id); js.State != job.Ready || js.Failure.Attempts != 0 {
		t.Fatalf("no policy after reload: %+v", js)
	}
}
