package server_test

import (
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/poll"
)

func (e *env) stats(c *client.Conn) client.Stats {
	e.t.Helper()
	s, err := c.Stats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestClaim speaks claim in bytes on a fake clock: the reply carries the
// job's tube, priority, TTR, failure count and whether it has a history,
// exactly as stats-job has them; claim counts and reserves as
// reserve-with-timeout does, waits for a put, says DEADLINE_SOON and
// TIMED_OUT, and refuses malformed lines.
func TestClaim(t *testing.T) {
	e := startEnv(t, "tubes:\n  work:\n    retry: {initial: 10s, jitter: 0, max-attempts: 5, max-age: 0}\n")
	r := e.raw()
	r.expect("use work\r\n", "USING work\r\n")
	r.expect("put 5 0 60 3\r\njob\r\n", "INSERTED 1\r\n")
	r.expect("watch work\r\n", "WATCHING 2\r\n")
	r.expect("claim 0\r\n", "CLAIMED 1 work 5 60 0 0 3\r\njob\r\n")
	r.expect("fail 1 4\r\nboom\r\n", "RETRYING 1 10 2026-11-20T18:00:10Z\r\n")
	r.expect("claim 0\r\n", "TIMED_OUT\r\n")
	e.clock.Advance(10 * time.Second)
	r.expect("claim 0\r\n", "CLAIMED 1 work 5 60 1 1 3\r\njob\r\n")
	c := e.dial()
	s := e.statsJob(c, 1)
	for k, v := range map[string]string{"state": "reserved", "reserves": "2", "failures": "1", "pri": "5", "ttr": "60", "tube": "work"} {
		if got := stat(t, s, k); got != v {
			t.Errorf("stats-job %s = %q, want %q", k, got, v)
		}
	}
	r.expect("delete 1\r\n", "DELETED\r\n")

	// A waiting claim is answered by a put on another connection.
	w := e.raw()
	if _, err := w.nc.Write([]byte("watch work\r\nclaim 100\r\n")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the claim waits", func() bool { return stat(t, e.stats(c), "current-waiting") == "1" })
	r.expect("put 0 0 1 2\r\nhi\r\n", "INSERTED 2\r\n")
	if got := w.do(""); got != "WATCHING 2\r\n" {
		t.Fatalf("watch answered %q", got)
	}
	if got := w.do(""); got != "CLAIMED 2 work 0 1 0 0 2\r\nhi\r\n" {
		t.Fatalf("waiting claim answered %q", got)
	}
	// Job 2's TTR is 1s: it is within the safety margin at once.
	w.expect("claim 10\r\n", "DEADLINE_SOON\r\n")
	w.expect("delete 2\r\n", "DELETED\r\n")

	for _, line := range []string{"claim", "claim -1", "claim 1 2", "claim  1", "claim x", "claim 2147483648"} {
		want := "BAD_FORMAT\r\n"
		if line == "claim" {
			want = "UNKNOWN_COMMAND\r\n" // the prefix is "claim "
		}
		r.expect(line+"\r\n", want)
	}
	st := e.stats(c)
	if stat(t, st, "cmd-claim") != "5" || stat(t, st, "cmd-reserve-with-timeout") != "0" || stat(t, st, "total-failures") != "1" {
		t.Errorf("cmd-claim %s, cmd-reserve-with-timeout %s, total-failures %s; want 5, 0, 1", st["cmd-claim"], st["cmd-reserve-with-timeout"], st["total-failures"])
	}
}
