package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
)

// buryWith reserves job id from tube and fails it with errText (the tube
// has no retry, so it is given up at once).
func (e *env) buryWith(c *client.Conn, tube string, id uint64, errText string) {
	e.t.Helper()
	e.reserveNow(c, tube, id)
	if _, err := c.Fail(e.ctx, id, errText); err != nil {
		e.t.Fatalf("fail %d: %v", id, err)
	}
}

// TestKickTubeByErrorText revives only the buried jobs whose last error
// holds the text, records the kick, and resets or keeps the attempts as
// the policy says.
func TestKickTubeByErrorText(t *testing.T) {
	e := startEnv(t, `tubes:
  mail:
    give-up: bury
  keep:
    give-up: bury
    kick-resets-attempts: false
`)
	c := e.dial()
	errs := []string{"SMTP timeout after 30s", "bad address: nobody@", "SMTP 554 refused", "disk full"}
	var ids []uint64
	for i, msg := range errs {
		id := e.put(c, "mail", fmt.Sprint("mail", i), time.Minute)
		e.buryWith(c, "mail", id, msg)
		ids = append(ids, id)
	}
	kept := e.put(c, "keep", "k", time.Minute)
	e.buryWith(c, "keep", kept, "SMTP down")
	e.clock.Advance(time.Minute)

	r := e.raw()
	r.expect("kick-tube mail 100 4\r\nSMTP\r\n", "KICKED 2\r\n")
	r.expect("kick-tube mail 100 4\r\nSMTP\r\n", "KICKED 0\r\n")
	r.expect("kick-tube nosuchtube 100 0\r\n\r\n", "NOT_FOUND\r\n")
	for i, id := range ids {
		s := e.statsJob(c, id)
		want := map[string]string{"state": "buried", "kicks": "0", "revivals": "0", "failures": "1"}
		if strings.Contains(errs[i], "SMTP") {
			want = map[string]string{"state": "ready", "kicks": "1", "revivals": "1", "failures": "0",
				"last-revival": e.clock.Now().Format(time.RFC3339), "last-error": errs[i]}
		}
		for k, v := range want {
			if got := stat(t, s, k); got != v {
				t.Errorf("job %d (%q): %s = %q, want %q", id, errs[i], k, got, v)
			}
		}
	}
	r.expect("kick-tube keep 1 0\r\n\r\n", "KICKED 1\r\n")
	if s := e.statsJob(c, kept); stat(t, s, "failures") != "1" || stat(t, s, "revivals") != "1" {
		t.Errorf("kick-resets-attempts false: %v", s)
	}
	// An empty text kicks every buried job, up to the bound.
	r.expect("kick-tube mail 1 0\r\n\r\n", "KICKED 1\r\n")
	r.expect("kick-tube mail 5 0\r\n\r\n", "KICKED 1\r\n")
}

// TestKickedDeadLetterGoesBackToItsOrigin: one dead-letter tube collects
// the failures of two tubes; kicking it sends each job home.
func TestKickedDeadLetterGoesBackToItsOrigin(t *testing.T) {
	e := startEnv(t, `tubes:
  "email-*":
    give-up: {action: dead-letter, tube: dead}
`)
	c := e.dial()
	a := e.put(c, "email-welcome", "a", time.Minute)
	b := e.put(c, "email-reset", "b", time.Minute)
	e.buryWith(c, "email-welcome", a, "template missing")
	e.buryWith(c, "email-reset", b, "template missing")
	if ts := e.statsTube(c, "dead"); stat(t, ts, "current-jobs-buried") != "2" {
		t.Fatalf("dead-letter tube %v", ts)
	}
	n, err := c.KickTube(e.ctx, "dead", 10, "template")
	if err != nil || n != 2 {
		t.Fatalf("kick-tube dead: %d, %v", n, err)
	}
	for id, home := range map[uint64]string{a: "email-welcome", b: "email-reset"} {
		s := e.statsJob(c, id)
		if stat(t, s, "tube") != home || stat(t, s, "state") != "ready" || stat(t, s, "origin") != home {
			t.Errorf("job %d after kick: %v", id, s)
		}
	}
}

// TestListJobsWithoutReserving lists a tube's jobs in each state, a page
// at a time, and checks that listing reserved nothing.
func TestListJobsWithoutReserving(t *testing.T) {
	e := startEnv(t, "tubes:\n  w:\n    give-up: bury\n")
	c, worker := e.dial(), e.dial()
	var ids []uint64
	for i := 0; i < 7; i++ {
		ids = append(ids, e.put(c, "w", fmt.Sprint("body", i), time.Minute))
	}
	delayed, err := c.PutIn(e.ctx, "w", []byte("later"), 0, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e.buryWith(worker, "w", ids[0], "first: broken")
	e.buryWith(worker, "w", ids[1], "second: broken")
	e.reserveNow(worker, "w", ids[2])

	var all []client.Stats
	var after uint64
	for {
		page, err := c.ListJobs(e.ctx, "w", client.StateAll, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 3 {
			break
		}
		after, _ = page[len(page)-1].Uint("id")
	}
	if len(all) != 8 {
		t.Fatalf("listed %d jobs, want 8", len(all))
	}
	for i, s := range all {
		want := ids
		want = append(want, delayed)
		if id, _ := s.Uint("id"); id != want[i] {
			t.Fatalf("job %d of the list has id %d, want %d", i, id, want[i])
		}
	}
	states := map[string]int{}
	for _, s := range all {
		states[s["state"]]++
	}
	if states["buried"] != 2 || states["reserved"] != 1 || states["ready"] != 4 || states["delayed"] != 1 {
		t.Fatalf("states %v", states)
	}
	buried, err := c.ListJobs(e.ctx, "w", client.StateBuried, 0, 10)
	if err != nil || len(buried) != 2 || buried[1]["last-error"] != "second: broken" || buried[0]["gave-up"] != "buried" {
		t.Fatalf("buried list %v, %v", buried, err)
	}
	// Listing reserved nothing: the ready jobs are still ready, unreserved.
	for _, id := range ids[3:] {
		if s := e.statsJob(c, id); stat(t, s, "state") != "ready" || stat(t, s, "reserves") != "0" {
			t.Fatalf("job %d after listing: %v", id, s)
		}
	}
	r := e.raw()
	body := listBody(t, e, "w", "delayed")
	r.expect("list-jobs w delayed 0 5\r\n", fmt.Sprintf("OK %d\r\n%s\r\n", len(body), body))
	r.expect("list-jobs w buried 999 5\r\n", "OK 4\r\n---\n\r\n")
	r.expect("list-jobs nosuchtube all 0 5\r\n", "NOT_FOUND\r\n")
	r.expect("list-jobs w dead 0 5\r\n", "BAD_FORMAT\r\n")
	r.expect("list-jobs w all 0 1001\r\n", "BAD_FORMAT\r\n")
}

// listBody returns the list-jobs body of a tube holding one job in state,
// after checking that it is stats-job's dictionary as one list item.
func listBody(t *testing.T, e *env, tube, state string) string {
	t.Helper()
	r := e.raw()
	got := r.do(fmt.Sprintf("list-jobs %s %s 0 5\r\n", tube, state))
	body := got[strings.Index(got, "\r\n")+2 : len(got)-2]
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(body, "---\n"), "\n"), "\n")
	if len(lines) < 20 || !strings.HasPrefix(lines[0], "- id: ") || !strings.HasPrefix(lines[1], "  tube: ") {
		t.Fatalf("list-jobs body %q", body)
	}
	id := strings.TrimPrefix(lines[0], "- id: ")
	sj := r.do("stats-job " + id + "\r\n")
	sjBody := sj[strings.Index(sj, "\r\n")+2 : len(sj)-2]
	want := "---\n- " + strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(sjBody, "---\n"), "\n"), "\n", "\n  ") + "\n"
	if body != want {
		t.Fatalf("list-jobs item differs from stats-job:\n%s\nwant\n%s", body, want)
	}
	return body
}

// TestFlushTube deletes a tube's jobs by state, reserved ones included.
func TestFlushTube(t *testing.T) {
	e := startEnv(t, "")
	c, worker := e.dial(), e.dial()
	var ids []uint64
	for i := 0; i < 5; i++ {
		ids = append(ids, e.put(c, "w", "x", time.Minute))
	}
	other := e.put(c, "other", "y", time.Minute)
	e.buryWith(worker, "w", ids[0], "broken")
	e.reserveNow(worker, "w", ids[1])
	r := e.raw()
	r.expect("flush-tube w buried\r\n", "FLUSHED 1\r\n")
	r.expect("flush-tube w buried\r\n", "FLUSHED 0\r\n")
	r.expect("flush-tube w all\r\n", "FLUSHED 4\r\n")
	r.expect("flush-tube nosuchtube all\r\n", "NOT_FOUND\r\n")
	r.expect("flush-tube w everything\r\n", "BAD_FORMAT\r\n")
	for _, id := range ids {
		r.expect(fmt.Sprintf("peek %d\r\n", id), "NOT_FOUND\r\n")
	}
	if err := worker.Delete(e.ctx, ids[1]); err == nil {
		t.Fatalf("the worker deleted a flushed job")
	}
	r.expect(fmt.Sprintf("peek %d\r\n", other), fmt.Sprintf("FOUND %d 1\r\ny\r\n", other))
}
