package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGiveUpDestinations fails a job until its schedule (two attempts) is
// used up, for each give-up action, and checks the exact fail replies.
func TestGiveUpDestinations(t *testing.T) {
	const sched = "    retry: {initial: 10s, jitter: 0, max-attempts: 2, max-age: 0}\n"
	cases := []struct {
		name, giveUp string
		lastReply    string // after the second failure
		state, tube  string // where the job is after ("" = gone)
		gaveUp       string
	}{
		{"bury", "    give-up: bury\n", "BURIED 2\r\n", "buried", "work", "buried"},
		{"dead-letter", "    give-up: {action: dead-letter, tube: dead}\n", "DEAD_LETTERED 2 dead\r\n", "buried", "dead", "dead-letter dead"},
		{"delete", "    give-up: delete\n", "DELETED 2\r\n", "", "", ""},
		{"default is bury", "", "BURIED 2\r\n", "buried", "work", "buried"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, "tubes:\n  work:\n"+sched+tc.giveUp)
			r := e.raw()
			r.expect("use work\r\n", "USING work\r\n")
			r.expect("put 0 0 60 3\r\njob\r\n", "INSERTED 1\r\n")
			r.expect("watch work\r\n", "WATCHING 2\r\n")
			r.expect("reserve-with-timeout 0\r\n", "RESERVED 1 3\r\njob\r\n")
			r.expect("fail 1 4\r\nboom\r\n", "RETRYING 1 10 2026-11-20T18:00:10Z\r\n")
			e.clock.Advance(10 * time.Second)
			r.expect("reserve-with-timeout 0\r\n", "RESERVED 1 3\r\njob\r\n")
			r.expect("fail 1 5\r\nboom2\r\n", tc.lastReply)
			c := e.dial()
			if tc.state == "" {
				if _, err := c.StatsJob(e.ctx, 1); err == nil {
					t.Fatalf("deleted job still has stats")
				}
				if !strings.Contains(e.log.String(), "job deleted by its failure policy") {
					t.Errorf("deletion not logged: %s", e.log.String())
				}
			} else {
				s := e.statsJob(c, 1)
				for k, v := range map[string]string{"state": tc.state, "tube": tc.tube, "origin": "work", "gave-up": tc.gaveUp,
					"failures": "2", "first-error": "boom", "last-error": "boom2"} {
					if got := stat(t, s, k); got != v {
						t.Errorf("stats-job %s = %q, want %q", k, got, v)
					}
				}
			}
			ts := e.statsTube(c, "work")
			if stat(t, ts, "total-failures") != "2" || stat(t, ts, "total-gave-up") != "1" {
				t.Errorf("stats-tube work: failures %s gave-up %s, want 2, 1", ts["total-failures"], ts["total-gave-up"])
			}
		})
	}
}

// TestFailWithoutRetryAndWithoutPolicy: a policy without retry gives up at
// the first failure; a tube without a policy buries with the error.
func TestFailWithoutRetryAndWithoutPolicy(t *testing.T) {
	e := startEnv(t, "tubes:\n  once:\n    give-up: delete\n")
	r := e.raw()
	r.expect("use once\r\n", "USING once\r\n")
	r.expect("put 0 0 60 1\r\na\r\n", "INSERTED 1\r\n")
	r.expect("use plain\r\n", "USING plain\r\n")
	r.expect("put 0 0 60 1\r\nb\r\n", "INSERTED 2\r\n")
	r.expect("reserve-job 1\r\n", "RESERVED 1 1\r\na\r\n")
	r.expect("reserve-job 2\r\n", "RESERVED 2 1\r\nb\r\n")
	r.expect("fail 1 1\r\nx\r\n", "DELETED 1\r\n")
	r.expect("fail 2 1\r\ny\r\n", "BURIED 1\r\n")
	r.expect("fail 2 1\r\ny\r\n", "BURIED 2\r\n") // buried: anyone may fail it, as delete it
	r.expect("fail 99 1\r\ny\r\n", "NOT_FOUND\r\n")
	r.expect("peek-buried\r\n", "FOUND 2 1\r\nb\r\n")
}

// TestFailOnlyByTheReservingWorker: another connection gets NOT_FOUND and
// the job stays reserved.
func TestFailOnlyByTheReservingWorker(t *testing.T) {
	e := startEnv(t, "tubes:\n  w:\n    retry: true\n")
	a, b := e.raw(), e.raw()
	a.expect("use w\r\n", "USING w\r\n")
	a.expect("put 0 0 60 1\r\na\r\n", "INSERTED 1\r\n")
	a.expect("reserve-job 1\r\n", "RESERVED 1 1\r\na\r\n")
	b.expect("fail 1 3\r\nbad\r\n", "NOT_FOUND\r\n")
	if s := e.statsJob(e.dial(), 1); stat(t, s, "state") != "reserved" || stat(t, s, "failures") != "0" {
		t.Fatalf("job after a foreign fail: %v", s)
	}
}

// TestRetentionExpiresBuriedJobsWithCounter: the count bound deletes the
// longest-buried job at once, the age bound when its time comes; each
// expiry is logged and counted.
func TestRetentionExpiresBuriedJobsWithCounter(t *testing.T) {
	e := startEnv(t, "tubes:\n  w:\n    retention: {max-count: 2, max-age: 1h}\n")
	c := e.dial()
	var ids []uint64
	for i := 0; i < 3; i++ {
		id := e.put(c, "w", fmt.Sprint("job", i), time.Minute)
		e.reserveNow(c, "w", id)
		if res, err := c.Fail(e.ctx, id, "broken"); err != nil || res.Action != "buried" {
			t.Fatalf("fail %d: %+v, %v", id, res, err)
		}
		ids = append(ids, id)
		e.clock.Advance(time.Minute)
	}
	if _, err := c.StatsJob(e.ctx, ids[0]); err == nil {
		t.Fatalf("the longest-buried job survived the count bound")
	}
	ts := e.statsTube(c, "w")
	if stat(t, ts, "current-jobs-buried") != "2" || stat(t, ts, "total-expired") != "1" || stat(t, ts, "current-buried-bytes") != "8" {
		t.Fatalf("after the count bound: %v", ts)
	}
	if !strings.Contains(e.log.String(), "buried job expired by retention count") || !strings.Contains(e.log.String(), fmt.Sprintf("id=%d", ids[0])) {
		t.Fatalf("count expiry not logged: %s", e.log.String())
	}
	// ids[1] was buried at t0+1m, so it expires at t0+1h1m.
	e.clock.Set(t0.Add(time.Hour + time.Minute - time.Second))
	if _, err := c.StatsJob(e.ctx, ids[1]); err != nil {
		t.Fatalf("job expired early: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := c.StatsJob(e.ctx, ids[1]); err == nil {
		t.Fatalf("job outlived its retention age")
	}
	e.clock.Advance(time.Minute)
	ts = e.statsTube(c, "w")
	st, err := c.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stat(t, ts, "current-jobs-buried") != "0" || stat(t, ts, "total-expired") != "3" || stat(t, st, "total-expired") != "3" {
		t.Fatalf("after the age bound: tube %v server expired %s", ts, st["total-expired"])
	}
	if !strings.Contains(e.log.String(), "buried job expired by retention age") {
		t.Fatalf("age expiry not logged: %s", e.log.String())
	}
}

// TestReadyExpiry is seed 003's GPS sample: a job not reserved within its
// window goes to the give-up path instead of running too late.
func TestReadyExpiry(t *testing.T) {
	e := startEnv(t, `tubes:
  gps:
    ready-expiry: 15m
    give-up: delete
  gps-kept:
    ready-expiry: 15m
    give-up: {action: dead-letter, tube: stale}
`)
	c := e.dial()
	late := e.put(c, "gps", "lat=1 lon=2", time.Minute)
	kept := e.put(c, "gps-kept", "lat=3 lon=4", time.Minute)
	e.clock.Advance(10 * time.Minute)
	fresh := e.put(c, "gps", "lat=5 lon=6", time.Minute)
	e.clock.Advance(5*time.Minute - time.Second)
	if _, err := c.StatsJob(e.ctx, late); err != nil {
		t.Fatalf("expired before its window: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := c.StatsJob(e.ctx, late); err == nil {
		t.Fatalf("job ready for 15m was not expired")
	}
	s := e.statsJob(c, kept)
	for k, v := range map[string]string{"state": "buried", "tube": "stale", "origin": "gps-kept", "gave-up": "dead-letter stale",
		"last-error": "ready-expiry: not reserved within 15m0s", "failures": "0"} {
		if got := stat(t, s, k); got != v {
			t.Errorf("dead-lettered expiry: stats-job %s = %q, want %q", k, got, v)
		}
	}
	e.reserveNow(c, "gps", fresh) // still within its window
	ts := e.statsTube(c, "gps")
	if stat(t, ts, "total-expired") != "1" || stat(t, ts, "total-gave-up") != "1" || stat(t, ts, "total-failures") != "0" {
		t.Fatalf("stats-tube gps %v", ts)
	}
	if !strings.Contains(e.log.String(), "ready job expired") {
		t.Fatalf("ready-expiry not logged: %s", e.log.String())
	}
}

// TestRetentionBytesAndFloodSummary: the byte bound keeps the buried
// bodies within max-bytes; many jobs expiring at once are logged as one
// summary line with their count and id range.
func TestRetentionBytesAndFloodSummary(t *testing.T) {
	e := startEnv(t, `tubes:
  big:
    retention: {max-bytes: 10}
  many:
    retention: {max-age: 1h}
`)
	c := e.dial()
	var big []uint64
	for i := 0; i < 3; i++ {
		id := e.put(c, "big", "12345", time.Minute) // 5 bytes each
		e.reserveNow(c, "big", id)
		if _, err := c.Fail(e.ctx, id, "x"); err != nil {
			t.Fatal(err)
		}
		big = append(big, id)
	}
	ts := e.statsTube(c, "big")
	if stat(t, ts, "current-jobs-buried") != "2" || stat(t, ts, "current-buried-bytes") != "10" || stat(t, ts, "total-expired") != "1" {
		t.Fatalf("byte bound: %v", ts)
	}
	if _, err := c.StatsJob(e.ctx, big[0]); err == nil {
		t.Fatalf("the longest-buried job survived the byte bound")
	}
	if !strings.Contains(e.log.String(), "buried job expired by retention size") {
		t.Fatalf("size expiry not logged: %s", e.log.String())
	}

	var many []uint64
	for i := 0; i < 10; i++ {
		id := e.put(c, "many", "m", time.Minute)
		e.reserveNow(c, "many", id)
		if _, err := c.Fail(e.ctx, id, "x"); err != nil {
			t.Fatal(err)
		}
		many = append(many, id)
	}
	e.clock.Advance(time.Hour)
	if ts := e.statsTube(c, "many"); stat(t, ts, "current-jobs-buried") != "0" || stat(t, ts, "total-expired") != "10" {
		t.Fatalf("age bound: %v", ts)
	}
	lines := 0
	for _, l := range strings.Split(e.log.String(), "\n") {
		if strings.Contains(l, "tube=many") && strings.Contains(l, "retention age") {
			lines++
			want := fmt.Sprintf("count=10 lowest_id=%d highest_id=%d", many[0], many[9])
			if !strings.Contains(l, want) {
				t.Errorf("summary line %q lacks %q", l, want)
			}
		}
	}
	if lines != 1 {
		t.Fatalf("%d log lines for a flood of 10 expiries, want 1 summary:\n%s", lines, e.log.String())
	}
}

// TestGiveUpCommand gives up a job at its first failure on a tube whose
// schedule would retry it: a job its connection reserved, and a ready job
// nobody holds (as delete may delete it); a job another connection
// reserved is NOT_FOUND.
func TestGiveUpCommand(t *testing.T) {
	e := startEnv(t, "tubes:\n  work:\n    retry: {initial: 10s, max-attempts: 5}\n    give-up: {action: dead-letter, tube: dead}\n")
	r, other := e.raw(), e.raw()
	r.expect("use work\r\n", "USING work\r\n")
	r.expect("put 0 0 60 3\r\njob\r\n", "INSERTED 1\r\n")
	r.expect("put 0 0 60 4\r\njob2\r\n", "INSERTED 2\r\n")
	r.expect("give-up 1 3\r\nbad\r\n", "DEAD_LETTERED 1 dead\r\n") // ready, held by nobody
	r.expect("watch work\r\n", "WATCHING 2\r\n")
	r.expect("reserve-with-timeout 0\r\n", "RESERVED 2 4\r\njob2\r\n")
	other.expect("give-up 2 3\r\nbad\r\n", "NOT_FOUND\r\n") // reserved by r
	r.expect("give-up 2 3\r\nbad\r\n", "DEAD_LETTERED 1 dead\r\n")
	for _, id := range []uint64{1, 2} {
		s := e.statsJob(e.dial(), id)
		for k, v := range map[string]string{"state": "buried", "tube": "dead", "failures": "1", "last-error": "bad", "gave-up": "dead-letter dead"} {
			if got := stat(t, s, k); got != v {
				t.Errorf("job %d: stats-job %s = %q, want %q", id, k, got, v)
			}
		}
	}
}
