package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSeed001FixTheScriptAndTheNextRetrySucceeds is seed 001's story over
// TCP: a worker fails a job while its "script" is broken; the server keeps
// the job and retries it on the default schedule (1m, 1m30s, 2m15s, …);
// once the script is fixed the next retry succeeds and the job is deleted.
func TestSeed001FixTheScriptAndTheNextRetrySucceeds(t *testing.T) {
	e := startEnv(t, "tubes:\n  calls:\n    retry:\n      jitter: 0\n")
	producer, worker := e.dial(), e.dial()
	id := e.put(producer, "calls", "charge card 42", time.Minute)

	broken := true
	script := func(body []byte) error {
		if broken {
			return fmt.Errorf("NameError: name 'gateway' is not defined\n  at charge(), line 12")
		}
		return nil
	}
	wantDelays := []time.Duration{time.Minute, 90 * time.Second, 135 * time.Second, 203 * time.Second, 304 * time.Second}
	if _, err := worker.Watch(e.ctx, "calls"); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		j, err := worker.ReserveWithTimeout(e.ctx, 0)
		if err != nil {
			t.Fatalf("attempt %d: reserve: %v", attempt, err)
		}
		if j.ID != id {
			t.Fatalf("reserved %d, want %d", j.ID, id)
		}
		if err := script(j.Body); err == nil {
			if err := worker.Delete(e.ctx, j.ID); err != nil {
				t.Fatal(err)
			}
			if attempt != len(wantDelays)+1 {
				t.Fatalf("succeeded at attempt %d, want %d", attempt, len(wantDelays)+1)
			}
			break
		} else {
			res, ferr := worker.Fail(e.ctx, j.ID, err.Error())
			if ferr != nil {
				t.Fatalf("attempt %d: fail: %v", attempt, ferr)
			}
			want := wantDelays[attempt-1]
			if res.Action != "retry" || res.Attempts != attempt || res.Delay != want || !res.At.Equal(e.clock.Now().Add(want)) {
				t.Fatalf("attempt %d: fail answered %+v; want retry %d in %v at %v", attempt, res, attempt, want, e.clock.Now().Add(want))
			}
			s := e.statsJob(producer, id)
			if stat(t, s, "state") != "delayed" || stat(t, s, "failures") != fmt.Sprint(attempt) ||
				stat(t, s, "last-error") != err.Error() || stat(t, s, "origin") != "calls" {
				t.Fatalf("attempt %d: stats-job %v", attempt, s)
			}
			// Nothing is ready a second before the retry is due.
			e.clock.Advance(want - time.Second)
			if _, err := worker.ReserveWithTimeout(e.ctx, 0); err == nil {
				t.Fatalf("attempt %d: job ready before its retry time", attempt)
			}
			if attempt == len(wantDelays) {
				broken = false // the developer fixes the script meanwhile
			}
			e.clock.Advance(time.Second)
		}
	}
	if _, err := producer.StatsJob(e.ctx, id); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("job still there after success: %v", err)
	}
	st, err := producer.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stat(t, st, "total-failures") != "5" || stat(t, st, "total-gave-up") != "0" {
		t.Fatalf("stats failures %s gave-up %s; want 5, 0", st["total-failures"], st["total-gave-up"])
	}
	ts := e.statsTube(producer, "calls")
	if stat(t, ts, "total-failures") != "5" || stat(t, ts, "cmd-delete") != "1" {
		t.Fatalf("stats-tube %v", ts)
	}
}

// TestFailHistoryKeys checks every failure key of stats-job after two
// failures, the error texts holding newlines and quotes.
func TestFailHistoryKeys(t *testing.T) {
	e := startEnv(t, "tubes:\n  calls:\n    retry: {jitter: 0}\n")
	c := e.dial()
	id := e.put(c, "calls", "x", time.Minute)
	e.reserveNow(c, "calls", id)
	first := "line one\nline \"two\": colon"
	if _, err := c.Fail(e.ctx, id, first); err != nil {
		t.Fatal(err)
	}
	firstAt := e.clock.Now()
	e.clock.Advance(time.Minute)
	e.reserveNow(c, "calls", id)
	if _, err := c.Fail(e.ctx, id, "second"); err != nil {
		t.Fatal(err)
	}
	s := e.statsJob(c, id)
	want := map[string]string{
		"state": "delayed", "tube": "calls", "size": "1", "failures": "2",
		"first-error": first, "last-error": "second",
		"first-failure": firstAt.Format(time.RFC3339), "last-failure": e.clock.Now().Format(time.RFC3339),
		"origin": "calls", "gave-up": "", "revivals": "0", "last-revival": "",
		"reserves": "2", "delay": "90",
	}
	for k, v := range want {
		if got := stat(t, s, k); got != v {
			t.Errorf("stats-job %s = %q, want %q", k, got, v)
		}
	}
	h := s.History()
	if h.Attempts != 2 || h.FirstError != first || !h.FirstFailed.Equal(firstAt) || h.Origin != "calls" {
		t.Errorf("History() = %+v", h)
	}
}

// TestTTRExpiryCountsAsFailure: on a tube with retry, a reservation whose
// TTR runs out is a failure ("ttr expired") scheduled like any other; on a
// tube without a policy the job goes back to ready as in beanstalkd.
func TestTTRExpiryCountsAsFailure(t *testing.T) {
	e := startEnv(t, "tubes:\n  calls:\n    retry: {jitter: 0}\n")
	c := e.dial()
	id := e.put(c, "calls", "slow", 5*time.Second)
	plain := e.put(c, "plain", "slow too", 5*time.Second)
	e.reserveNow(c, "calls", id)
	e.reserveNow(c, "plain", plain)
	e.clock.Advance(5 * time.Second)

	s := e.statsJob(c, id)
	for k, v := range map[string]string{"state": "delayed", "failures": "1", "last-error": "ttr expired", "timeouts": "1", "delay": "60"} {
		if got := stat(t, s, k); got != v {
			t.Errorf("policy tube: stats-job %s = %q, want %q", k, got, v)
		}
	}
	s = e.statsJob(c, plain)
	for k, v := range map[string]string{"state": "ready", "failures": "0", "last-error": "", "timeouts": "1"} {
		if got := stat(t, s, k); got != v {
			t.Errorf("plain tube: stats-job %s = %q, want %q", k, got, v)
		}
	}
	if ts := e.statsTube(c, "calls"); stat(t, ts, "total-failures") != "1" {
		t.Errorf("stats-tube calls total-failures %s, want 1", ts["total-failures"])
	}
	if ts := e.statsTube(c, "plain"); stat(t, ts, "total-failures") != "0" {
		t.Errorf("stats-tube plain total-failures %s, want 0", ts["total-failures"])
	}
	// The retry comes a minute later; a second TTR expiry is failure 2.
	e.clock.Advance(time.Minute)
	e.reserveNow(c, "calls", id)
	e.clock.Advance(5 * time.Second)
	if s := e.statsJob(c, id); stat(t, s, "failures") != "2" || stat(t, s, "delay") != "90" {
		t.Errorf("after a second expiry: %v", s)
	}
}

// TestReleaseIsNotAFailure: release keeps the client's own delay.
func TestReleaseIsNotAFailure(t *testing.T) {
	e := startEnv(t, "tubes:\n  calls:\n    retry: true\n")
	c := e.dial()
	id := e.put(c, "calls", "x", time.Minute)
	e.reserveNow(c, "calls", id)
	if err := c.Release(e.ctx, id, 7, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s := e.statsJob(c, id)
	if stat(t, s, "delay") != "10" || stat(t, s, "failures") != "0" || stat(t, s, "releases") != "1" || stat(t, s, "pri") != "7" {
		t.Fatalf("after release: %v", s)
	}
}
