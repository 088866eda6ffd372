package protocoltest

import (
	"testing"
)

// Cases that take real time: delays, TTRs, DEADLINE_SOON, timeouts, and
// blocked reservers. Durations are 1-2 s; the replies are asserted, not
// how long they took. What must be seen before a delay ends is checked
// on a job delayed for a minute, so that a slow reply (a cluster's put
// waits for its replicas) cannot outlast the delay.
func (l *caseList) timeCases() {
	l.add("Delay", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 60, 60, "much later")
		_, v := c.Stats("stats-job 1")
		if v["state"] != "delayed" || v["delay"] != "60" {
			t.Fatalf("stats-job of a delayed job: %v", v)
		}
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
		c.Put(0, 1, 60, "later")
		c.Expect("reserve-with-timeout 5\r\n", "RESERVED 2 5\r\nlater\r\n")
	})
	l.add("ReserveWithTimeout", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
		c.Expect("reserve-with-timeout 1\r\n", "TIMED_OUT\r\n")
	})
	l.add("ReserveWithTimeoutTwoConnections", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Expect("watch foo\r\n", "WATCHING 2\r\n")
		a.Send("reserve-with-timeout 1\r\n")
		b.Expect("watch foo\r\n", "WATCHING 2\r\n")
		a.ExpectReplies("TIMED_OUT\r\n")
	})
	l.add("ReserveBlocksUntilPut", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Send("reserve\r\n")
		b.WaitStat("stats", "current-waiting", "1")
		if got := b.Stat("stats-tube default", "current-waiting"); got != "1" {
			t.Fatalf("stats-tube current-waiting %s", got)
		}
		b.Put(0, 0, 60, "x")
		a.ExpectReplies("RESERVED 1 1\r\nx\r\n")
		b.WaitStat("stats", "current-waiting", "0")
	})
	l.add("WaitersServedInArrivalOrder", func(t *testing.T, s *Target) {
		a, b, c, p := Dial(t, s.Addr), Dial(t, s.Addr), Dial(t, s.Addr), Dial(t, s.Addr)
		a.Send("reserve\r\n")
		p.WaitStat("stats", "current-waiting", "1")
		b.Send("reserve\r\n")
		p.WaitStat("stats", "current-waiting", "2")
		c.Send("reserve-with-timeout 10\r\n")
		p.WaitStat("stats", "current-waiting", "3")
		p.Send("put 0 0 60 1\r\n1\r\nput 0 0 60 1\r\n2\r\nput 0 0 60 1\r\n3\r\n")
		p.ExpectReplies("INSERTED 1\r\n", "INSERTED 2\r\n", "INSERTED 3\r\n")
		a.ExpectReplies("RESERVED 1 1\r\n1\r\n")
		b.ExpectReplies("RESERVED 2 1\r\n2\r\n")
		c.ExpectReplies("RESERVED 3 1\r\n3\r\n")
	})
	l.add("WaitersOrderAcrossTubes", func(t *testing.T, s *Target) {
		a, b, p := Dial(t, s.Addr), Dial(t, s.Addr), Dial(t, s.Addr)
		a.Expect("watch t2\r\n", "WATCHING 2\r\n")
		a.Expect("ignore default\r\n", "WATCHING 1\r\n")
		b.Expect("watch t1\r\n", "WATCHING 2\r\n")
		b.Expect("watch t2\r\n", "WATCHING 3\r\n")
		a.Send("reserve\r\n")
		p.WaitStat("stats", "current-waiting", "1")
		b.Send("reserve\r\n")
		p.WaitStat("stats", "current-waiting", "2")
		p.Expect("use t1\r\n", "USING t1\r\n")
		p.Put(0, 0, 60, "one") // only b watches t1
		b.ExpectReplies("RESERVED 1 3\r\none\r\n")
		p.Expect("use t2\r\n", "USING t2\r\n")
		p.Put(0, 0, 60, "two")
		a.ExpectReplies("RESERVED 2 3\r\ntwo\r\n")
	})
	l.add("TTRExpiry", func(t *testing.T, s *Target) {
		skipUnreliableTTR(t, s)
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Put(0, 0, 1, "x")
		a.Expect("reserve\r\n", "RESERVED 1 1\r\nx\r\n")
		b.WaitStat("stats-job 1", "state", "ready")
		b.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 1\r\nx\r\n")
		_, v := b.Stats("stats-job 1")
		if v["timeouts"] != "1" || v["reserves"] != "2" || v["state"] != "reserved" {
			t.Fatalf("stats-job after a TTR expiry: %v", v)
		}
		if got := b.Stat("stats", "job-timeouts"); got != "1" {
			t.Fatalf("job-timeouts %s", got)
		}
		a.Expect("delete 1\r\n", "NOT_FOUND\r\n")
		b.Expect("delete 1\r\n", "DELETED\r\n")
	})
	l.add("TTRExpiryWhileAnotherWaits", func(t *testing.T, s *Target) {
		skipUnreliableTTR(t, s)
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Put(0, 0, 1, "x")
		a.Expect("reserve\r\n", "RESERVED 1 1\r\nx\r\n")
		b.Expect("reserve-with-timeout 2\r\n", "RESERVED 1 1\r\nx\r\n")
	})
	l.add("TouchExtendsTTR", func(t *testing.T, s *Target) {
		a := Dial(t, s.Addr)
		a.Put(0, 0, 2, "x")
		a.Expect("reserve\r\n", "RESERVED 1 1\r\nx\r\n")
		a.Expect("touch 1\r\n", "TOUCHED\r\n")
		if got := a.Stat("stats-job 1", "time-left"); got != "1" && got != "2" {
			t.Fatalf("time-left after touch: %s", got)
		}
	})
	l.add("DeadlineSoon", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 1, "a")
		c.Expect("reserve-with-timeout 1\r\n", "RESERVED 1 1\r\na\r\n")
		c.Expect("reserve-with-timeout 1\r\n", "DEADLINE_SOON\r\n")
		if got := c.Stat("stats-job 1", "state"); got != "reserved" {
			t.Fatalf("state %s", got)
		}
		c.Expect("release 1 0 0\r\n", "RELEASED\r\n")
		if got := c.Stat("stats-job 1", "state"); got != "ready" {
			t.Fatalf("state %s", got)
		}
	})
	l.add("DeadlineSoonWithReadyJob", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 1, "a")
		c.Put(0, 0, 1, "b")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\na\r\n")
		// A ready job is handed out even within the safety margin.
		c.Expect("reserve\r\n", "RESERVED 2 1\r\nb\r\n")
		c.Expect("reserve\r\n", "DEADLINE_SOON\r\n")
	})
	l.add("DeadlineSoonWhileBlocked", func(t *testing.T, s *Target) {
		c, p := Dial(t, s.Addr), Dial(t, s.Addr)
		c.Put(0, 0, 2, "a")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\na\r\n")
		c.Send("reserve\r\n")
		c.ExpectReplies("DEADLINE_SOON\r\n")
		p.WaitStat("stats", "current-waiting", "0")
		if got := p.Stat("stats-job 1", "state"); got != "reserved" {
			t.Fatalf("state %s", got)
		}
	})
	l.add("HangUpWhileReserving", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Send("reserve\r\n")
		b.WaitStat("stats", "current-waiting", "1")
		a.Close()
		b.WaitStat("stats", "current-waiting", "0")
		b.WaitStat("stats", "current-connections", "1")
		b.Put(0, 0, 60, "x")
		b.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 1\r\nx\r\n")
	})
	l.add("HalfCloseWhileReserving", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Send("reserve\r\n")
		b.WaitStat("stats", "current-waiting", "1")
		a.CloseWrite()
		a.ExpectReplies("TIMED_OUT\r\n")
		a.ExpectClosed()
		b.Put(0, 0, 60, "x")
		b.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 1\r\nx\r\n")
	})
	l.add("PipelinedAfterBlockingReserve", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Send("reserve\r\nlist-tube-used\r\n")
		b.WaitStat("stats", "current-waiting", "1")
		b.Put(0, 0, 60, "x")
		a.ExpectReplies("RESERVED 1 1\r\nx\r\n", "USING default\r\n")
	})
	l.add("RepliesBeforeBlockingReserveAreSent", func(t *testing.T, s *Target) {
		a := Dial(t, s.Addr)
		a.Send("use foo\r\nreserve\r\n")
		a.ExpectReplies("USING foo\r\n")
	})
}

// skipUnreliableTTR skips a case on beanstalkd, whose TTR expiry is
// unreliable: with other connections active, a reserved job whose TTR has
// passed can stay reserved for seconds (stats-job shows a negative
// time-left) — observed with beanstalkd 1.12 while another connection
// waits in reserve-with-timeout or polls stats. A deliberate difference:
// Reprieve returns the job to ready when its TTR ends.
func skipUnreliableTTR(t *testing.T, s *Target) {
	if s.Beanstalkd {
		t.Skip("beanstalkd 1.12 expires TTRs late when other connections are active; see docs/protocol.md")
	}
}
