package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/policy"
)

// watching opens a session that watches only tube.
func watching(t *testing.T, b *Broker, tubes ...string) *Session {
	t.Helper()
	s := open(t, b)
	for _, n := range tubes {
		s.Watch(n)
	}
	if _, err := s.Ignore("default"); err != nil && len(tubes) > 0 {
		t.Fatal(err)
	}
	return s
}

func tubeStats(t *testing.T, b *Broker, name string) TubeStats {
	t.Helper()
	ts, err := b.StatsTube(name)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestConcurrencyLimit(t *testing.T) {
	b, _ := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Concurrency: 2}, "work"))
	p := open(t, b)
	p.Use("work")
	var ids []job.ID
	for i := 0; i < 4; i++ {
		ids = append(ids, mustPut(t, p, 0, 0, time.Minute, "j"))
	}
	w1, w2, w3, w4 := watching(t, b, "work"), watching(t, b, "work"), watching(t, b, "work"), watching(t, b, "work")
	mustReserve(t, w1, ids[0])
	mustReserve(t, w2, ids[1])
	if _, err := reserveNow(t, w3); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("third reserve with two out: %v, want timed out", err)
	}
	ts := tubeStats(t, b, "work")
	if ts.CurrentJobsReserved != 2 || ts.CurrentJobsReady != 2 || ts.HeldByConcurrency != 1 || ts.LimitConcurrency != 2 {
		t.Fatalf("stats %+v", ts)
	}
	// Two blocked reservers are served in the order they started waiting,
	// each when a slot frees: by a delete, then by a bury.
	bl3 := startReserve(t, b, w3, context.Background(), -1)
	bl4 := startReserve(t, b, w4, context.Background(), -1)
	if err := w1.Delete(ids[0]); err != nil {
		t.Fatal(err)
	}
	if r, err := bl3.result(t); err != nil || r.ID != ids[2] {
		t.Fatalf("first waiter got %v, %v; want job %d", r.ID, err, ids[2])
	}
	if bl4.returned() {
		t.Fatal("second waiter served while two jobs are out")
	}
	if err := w2.Bury(ids[1], 0); err != nil {
		t.Fatal(err)
	}
	if r, err := bl4.result(t); err != nil || r.ID != ids[3] {
		t.Fatalf("second waiter got %v, %v; want job %d", r.ID, err, ids[3])
	}
	checkInvariants(t, b)
}

// TestConcurrencySlotFreedByTTR: a reservation that times out frees its
// slot, and the waiting reserver gets the job back at once.
func TestConcurrencySlotFreedByTTR(t *testing.T) {
	b, clk := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Concurrency: 1}, "work"))
	p := open(t, b)
	p.Use("work")
	a := mustPut(t, p, 0, 0, 5*time.Second, "a")
	c := mustPut(t, p, 1, 0, 5*time.Second, "c")
	w1, w2 := watching(t, b, "work"), watching(t, b, "work")
	mustReserve(t, w1, a)
	bl := startReserve(t, b, w2, context.Background(), -1)
	clk.Advance(5*time.Second - 1)
	if bl.returned() {
		t.Fatal("served before the TTR expired")
	}
	clk.Advance(1)
	if r, err := bl.result(t); err != nil || r.ID != a {
		t.Fatalf("waiter got %v, %v; want the timed-out job %d", r.ID, err, a)
	}
	if ts := tubeStats(t, b, "work"); ts.CurrentJobsReserved != 1 || ts.CurrentJobsReady != 1 {
		t.Fatalf("stats %+v; want one out, %d still ready", ts, c)
	}
	checkInvariants(t, b)
}

// TestConcurrencySlotFreedByFail: fail frees the slot too, and the retry
// waits for its delay like any other.
func TestConcurrencySlotFreedByFail(t *testing.T) {
	b, _ := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Concurrency: 1, Retry: doubling(3)}, "work"))
	p := open(t, b)
	p.Use("work")
	a := mustPut(t, p, 0, 0, time.Minute, "a")
	c := mustPut(t, p, 1, 0, time.Minute, "c")
	w1, w2 := watching(t, b, "work"), watching(t, b, "work")
	mustReserve(t, w1, a)
	bl := startReserve(t, b, w2, context.Background(), -1)
	if res, err := w1.Fail(a, "boom"); err != nil || res.Action != FailRetry {
		t.Fatalf("fail: %+v, %v", res, err)
	}
	if r, err := bl.result(t); err != nil || r.ID != c {
		t.Fatalf("waiter got %v, %v; want %d", r.ID, err, c)
	}
	checkInvariants(t, b)
}

// TestRateLimitWaiters: a rate of one reserve per 10 s (burst 2) across
// two watched tubes; several reservers wait and are woken, one per token,
// in the order they started waiting, when each token is due on the clock.
func TestRateLimitWaiters(t *testing.T) {
	b, clk := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Rate: &policy.Rate{Limit: 1, Per: 10 * time.Second, Burst: 2}}, "slow"))
	p := open(t, b)
	p.Use("slow")
	var ids []job.ID
	for i := 0; i < 5; i++ {
		ids = append(ids, mustPut(t, p, 0, 0, 10*time.Hour, "s"))
	}
	w := watching(t, b, "other", "slow")
	mustReserve(t, w, ids[0]) // the burst
	mustReserve(t, w, ids[1])
	if _, err := reserveNow(t, w); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("reserve past the burst: %v", err)
	}
	var waiters []*blocked
	for i := 0; i < 3; i++ {
		waiters = append(waiters, startReserve(t, b, watching(t, b, "other", "slow"), context.Background(), -1))
	}
	for i, bl := range waiters {
		clk.Advance(10*time.Second - 1)
		if bl.returned() {
			t.Fatalf("waiter %d served before its token", i)
		}
		clk.Advance(1)
		if r, err := bl.result(t); err != nil || r.ID != ids[2+i] {
			t.Fatalf("waiter %d got %v, %v; want %d", i, r.ID, err, ids[2+i])
		}
		for _, later := range waiters[i+1:] {
			if later.returned() {
				t.Fatalf("a later waiter was served with waiter %d", i)
			}
		}
	}
	// A job of the other watched tube is not held back by slow's limit.
	// (Held back: the reserve past the burst and the first waiter's; the
	// later waiters queued behind it without trying.)
	p.Use("other")
	o := mustPut(t, p, 5, 0, time.Hour, "o")
	mustReserve(t, w, o)
	if ts := tubeStats(t, b, "slow"); ts.HeldByRate != 2 || ts.LimitRate != "1/10s" || ts.LimitBurst != 2 {
		t.Fatalf("stats %+v", ts)
	}
	// After a quiet spell the bucket holds the burst again, no more.
	clk.Advance(time.Hour)
	p.Use("slow")
	for i := 0; i < 3; i++ {
		mustPut(t, p, 0, 0, 10*time.Hour, "s")
	}
	w2 := watching(t, b, "slow")
	mustReserve(t, w2, ids[4]+2)
	mustReserve(t, w2, ids[4]+3)
	if _, err := reserveNow(t, w2); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("third reserve after a quiet spell: %v, want timed out (burst 2)", err)
	}
	checkInvariants(t, b)
}

func TestUniquePut(t *testing.T) {
	b, clk := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Unique: &policy.Unique{Window: time.Hour}}, "u"))
	p := open(t, b)
	p.Use("u")
	a := mustPut(t, p, 0, 0, time.Minute, "same")
	if id := mustPut(t, p, 5, 0, time.Minute, "same"); id != a {
		t.Fatalf("duplicate put got %d, want %d", id, a)
	}
	other := mustPut(t, p, 0, 0, time.Minute, "other")
	w := watching(t, b, "u")
	mustReserve(t, w, a)
	if id := mustPut(t, p, 0, 0, time.Minute, "same"); id != a {
		t.Fatalf("duplicate of a reserved job got %d, want %d", id, a)
	}
	if ts := tubeStats(t, b, "u"); ts.Duplicates != 2 || ts.TotalJobs != 2 || b.Stats().TotalJobs != 2 {
		t.Fatalf("stats %+v", ts)
	}
	if err := w.Delete(a); err != nil {
		t.Fatal(err)
	}
	fresh := mustPut(t, p, 0, 0, time.Minute, "same")
	if fresh == a || fresh <= other {
		t.Fatalf("put after delete got %d", fresh)
	}
	// Past the window a put is a new job even though the old one lives.
	clk.Advance(time.Hour)
	if id := mustPut(t, p, 0, 0, time.Minute, "same"); id == fresh {
		t.Fatal("a job older than the window still dedupes")
	}
	// Another tube is not deduplicated.
	p.Use("plain")
	x := mustPut(t, p, 0, 0, time.Minute, "same")
	if y := mustPut(t, p, 0, 0, time.Minute, "same"); x == y {
		t.Fatal("a tube without unique deduplicated")
	}
	checkInvariants(t, b)
}

func TestUniqueJSONField(t *testing.T) {
	b, _ := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Unique: &policy.Unique{Key: policy.UniqueKey{Field: "id"}}}, "u"))
	p := open(t, b)
	p.Use("u")
	a := mustPut(t, p, 0, 0, time.Minute, `{"id": "x1", "n": 1}`)
	cases := []struct {
		body string
		dup  bool
	}{
		{`{"n": 2, "id":"x1"}`, true},
		{`{"id": "\u0078\u0031"}`, true},
		{`{"id": "x2"}`, false},
		{`{"id": 7}`, false},
		{`not json`, false},
		{`{"other": "x1"}`, false},
	}
	var seven job.ID
	for _, tc := range cases {
		id := mustPut(t, p, 0, 0, time.Minute, tc.body)
		if (id == a) != tc.dup {
			t.Errorf("put %s = %d; duplicate of %d: %v", tc.body, id, a, tc.dup)
		}
		if tc.body == `{"id": 7}` {
			seven = id
		}
	}
	if id := mustPut(t, p, 0, 0, time.Minute, `{"id":7}`); id != seven {
		t.Errorf("numeric key 7 again = %d, want %d", id, seven)
	}
}

// TestUniqueBuriedThenKicked: a buried job stops deduplicating unless
// buried: true; kicked back, it dedupes again (the newest job of a key
// answers).
func TestUniqueBuriedThenKicked(t *testing.T) {
	for _, buried := range []bool{false, true} {
		b, _ := newTest(t, nil)
		b.setLookup(policyFor(&policy.Policy{Unique: &policy.Unique{Buried: buried}}, "u"))
		p := open(t, b)
		p.Use("u")
		a := mustPut(t, p, 0, 0, time.Minute, "k")
		w := watching(t, b, "u")
		mustReserve(t, w, a)
		if err := w.Bury(a, 0); err != nil {
			t.Fatal(err)
		}
		second := mustPut(t, p, 0, 0, time.Minute, "k")
		if buried && second != a {
			t.Fatalf("buried: true: put got %d, want the buried job %d", second, a)
		}
		if !buried && second == a {
			t.Fatal("buried: false: a buried job still deduplicates")
		}
		if n := p.Kick(1); n != 1 {
			t.Fatalf("kicked %d", n)
		}
		want := a
		if !buried {
			want = second
		}
		if id := mustPut(t, p, 0, 0, time.Minute, "k"); id != want {
			t.Fatalf("buried %v: put after kick got %d, want %d", buried, id, want)
		}
		checkInvariants(t, b)
	}
}

// TestUniqueSurvivesRestart: the index is rebuilt from the restored jobs.
func TestUniqueSurvivesRestart(t *testing.T) {
	m := newMemJournal()
	b, _ := newTest(t, m)
	pol := policyFor(&policy.Policy{Unique: &policy.Unique{}}, "u")
	b.setLookup(pol)
	p := open(t, b)
	p.Use("u")
	a := mustPut(t, p, 0, 0, time.Minute, "k")
	mustPut(t, p, 0, time.Hour, time.Minute, "delayed")

	b2, _ := newTest(t, nil)
	b2.setLookup(pol)
	b2.Restore(m.snapshot(), b.NextID())
	p2 := open(t, b2)
	p2.Use("u")
	if id := mustPut(t, p2, 0, 0, time.Minute, "k"); id != a {
		t.Fatalf("after restart: put got %d, want %d", id, a)
	}
	if id := mustPut(t, p2, 0, 0, time.Minute, "delayed"); id != a+1 {
		t.Fatalf("after restart: delayed duplicate got %d, want %d", id, a+1)
	}
	// A reload that drops unique lets the duplicate in; one that brings
	// it back rebuilds the index from the jobs.
	b2.setLookup(nil)
	c := mustPut(t, p2, 0, 0, time.Minute, "k")
	if c == a {
		t.Fatal("deduplicated without a policy")
	}
	b2.setLookup(pol)
	if id := mustPut(t, p2, 0, 0, time.Minute, "k"); id != c {
		t.Fatalf("after reload: put got %d, want the newest job %d", id, c)
	}
}

// TestLimitsReload: a reload that lowers a concurrency limit keeps the
// jobs out reserved and holds new reserves back until enough are done;
// one that raises it serves the blocked reservers at once. No job is
// lost or handed out twice.
func TestLimitsReload(t *testing.T) {
	b, _ := newTest(t, nil)
	b.setLookup(policyFor(&policy.Policy{Concurrency: 3}, "work"))
	p := open(t, b)
	p.Use("work")
	var ids []job.ID
	for i := 0; i < 6; i++ {
		ids = append(ids, mustPut(t, p, 0, 0, time.Hour, "j"))
	}
	w := watching(t, b, "work")
	for _, id := range ids[:3] {
		mustReserve(t, w, id)
	}
	b.setLookup(policyFor(&policy.Policy{Concurrency: 1}, "work"))
	if err := w.Delete(ids[0]); err != nil {
		t.Fatal(err)
	}
	w2 := watching(t, b, "work")
	if _, err := reserveNow(t, w2); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("reserve with 2 out, limit lowered to 1: %v", err)
	}
	bl := startReserve(t, b, w2, context.Background(), -1)
	bl3 := startReserve(t, b, watching(t, b, "work"), context.Background(), -1)
	b.setLookup(policyFor(&policy.Policy{Concurrency: 4}, "work"))
	if r, err := bl.result(t); err != nil || r.ID != ids[3] {
		t.Fatalf("first waiter after raising the limit: %v, %v", r.ID, err)
	}
	if r, err := bl3.result(t); err != nil || r.ID != ids[4] {
		t.Fatalf("second waiter after raising the limit: %v, %v", r.ID, err)
	}
	if ts := tubeStats(t, b, "work"); ts.CurrentJobsReserved != 4 || ts.CurrentJobsReady != 1 || ts.TotalJobs != 6 {
		t.Fatalf("stats %+v", ts)
	}
	b.setLookup(nil) // no limit at all
	mustReserve(t, watching(t, b, "work"), ids[5])
	checkInvariants(t, b)
}
