package protocoltest

import (
	"fmt"
	"testing"
)

// Cases for the life of a job: put, reserve, delete, release, bury, touch,
// peek, kick.
func (l *caseList) jobCases() {
	l.add("PutReserveDelete", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 60 5\r\nhello\r\n", "INSERTED 1\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 5\r\nhello\r\n")
		c.Expect("delete 1\r\n", "DELETED\r\n")
		c.Expect("delete 1\r\n", "NOT_FOUND\r\n")
		c.Expect("peek 1\r\n", "NOT_FOUND\r\n")
	})
	// Reprieve's claim extension (docs/protocol.md, "claim"): beanstalkd
	// answers it UNKNOWN_COMMAND and goes on, reserving nothing, which is
	// how a client tells it may fall back to reserve-with-timeout.
	l.add("ClaimExtension", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 3 0 60 5\r\nhello\r\n", "INSERTED 1\r\n")
		if s.Beanstalkd {
			c.Expect("claim 0\r\n", "UNKNOWN_COMMAND\r\n")
			c.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 5\r\nhello\r\n")
			c.Expect("claim 0\r\n", "UNKNOWN_COMMAND\r\n")
		} else {
			c.Expect("claim 0\r\n", "CLAIMED 1 default 3 60 0 0 5\r\nhello\r\n")
			c.Expect("claim 0\r\n", "TIMED_OUT\r\n")
		}
		c.Expect("delete 1\r\n", "DELETED\r\n")
	})
	l.add("PutZeroLengthBody", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 1 0\r\n\r\n", "INSERTED 1\r\n")
		c.Expect("peek 1\r\n", "FOUND 1 0\r\n\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 0\r\n\r\n")
	})
	l.add("BodyContainsCRLF", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		body := "put 0 0 1 1\r\n\r\n\r\nx" // looks like commands
		c.Expect(fmt.Sprintf("put 0 0 1 %d\r\n%s\r\n", len(body), body), "INSERTED 1\r\n")
		c.Expect("peek 1\r\n", fmt.Sprintf("FOUND 1 %d\r\n%s\r\n", len(body), body))
		c.Expect("reserve\r\n", fmt.Sprintf("RESERVED 1 %d\r\n%s\r\n", len(body), body))
	})
	l.add("BinaryBody", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		body := "\x00\xff\r\x01\n"
		c.Expect("put 0 0 1 5\r\n"+body+"\r\n", "INSERTED 1\r\n")
		c.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 5\r\n"+body+"\r\n")
	})
	l.add("PriorityThenFIFO", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(5, 0, 60, "A")
		c.Put(1, 0, 60, "B")
		c.Put(5, 0, 60, "C")
		c.Put(1, 0, 60, "D")
		c.Put(4294967295, 0, 60, "E")
		c.Put(0, 0, 60, "F")
		for _, want := range []string{"6 1\r\nF", "2 1\r\nB", "4 1\r\nD", "1 1\r\nA", "3 1\r\nC", "5 1\r\nE"} {
			c.Expect("reserve-with-timeout 0\r\n", "RESERVED "+want+"\r\n")
		}
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
	})
	l.add("MaxPriority", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 4294967295 0 100 1\r\na\r\n", "INSERTED 1\r\n")
		if got := c.Stat("stats-job 1", "pri"); got != "4294967295" {
			t.Fatalf("pri %s", got)
		}
	})
	l.add("Peek", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 1 1\r\na\r\n", "INSERTED 1\r\n")
		c.Expect("peek 1\r\n", "FOUND 1 1\r\na\r\n")
		c.Expect("peek 2\r\n", "NOT_FOUND\r\n")
		c.Expect("peek 18446744073709551615\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\na\r\n")
		// A reserved job can be peeked at, by anyone.
		Dial(t, s.Addr).Expect("peek 1\r\n", "FOUND 1 1\r\na\r\n")
	})
	l.add("PeekReady", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("peek-ready\r\n", "NOT_FOUND\r\n")
		c.Put(10, 0, 60, "A")
		c.Put(5, 0, 60, "B")
		c.Put(5, 0, 60, "C")
		c.Expect("peek-ready\r\n", "FOUND 2 1\r\nB\r\n")
		c.Expect("use other\r\n", "USING other\r\n")
		c.Expect("peek-ready\r\n", "NOT_FOUND\r\n")
	})
	l.add("PeekDelayed", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("peek-delayed\r\n", "NOT_FOUND\r\n")
		c.Put(0, 0, 1, "A")
		c.Put(0, 99, 1, "B")
		c.Put(0, 50, 1, "C")
		c.Expect("peek-delayed\r\n", "FOUND 3 1\r\nC\r\n")
		c.Expect("delete 3\r\n", "DELETED\r\n")
		c.Expect("peek-delayed\r\n", "FOUND 2 1\r\nB\r\n")
		c.Expect("delete 2\r\n", "DELETED\r\n")
		c.Expect("peek-delayed\r\n", "NOT_FOUND\r\n")
	})
	l.add("PeekBuriedKick", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 1 1\r\nA\r\n", "INSERTED 1\r\n")
		c.Expect("bury 1 0\r\n", "NOT_FOUND\r\n") // not reserved
		c.Expect("peek-buried\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("bury 1 0\r\n", "BURIED\r\n")
		c.Expect("peek-buried\r\n", "FOUND 1 1\r\nA\r\n")
		c.Expect("kick 1\r\n", "KICKED 1\r\n")
		c.Expect("peek-buried\r\n", "NOT_FOUND\r\n")
		c.Expect("peek-ready\r\n", "FOUND 1 1\r\nA\r\n")
		c.Expect("kick 1\r\n", "KICKED 0\r\n")
	})
	l.add("PeekBuriedOldestFirst", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(9, 0, 60, "A")
		c.Put(1, 0, 60, "B")
		c.Expect("reserve\r\n", "RESERVED 2 1\r\nB\r\n")
		c.Expect("bury 2 0\r\n", "BURIED\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("bury 1 0\r\n", "BURIED\r\n")
		c.Expect("peek-buried\r\n", "FOUND 2 1\r\nB\r\n")
	})
	l.add("Release", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 60, "A")
		c.Expect("release 1 10 0\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("release 1 10 0\r\n", "RELEASED\r\n")
		_, v := c.Stats("stats-job 1")
		if v["state"] != "ready" || v["pri"] != "10" || v["releases"] != "1" || v["reserves"] != "1" {
			t.Fatalf("stats-job after release: %v", v)
		}
		c.Expect("release 1 10 0\r\n", "NOT_FOUND\r\n")
	})
	// ReleaseDelayed checks a job released for a minute while it is
	// delayed, and one released for a second once its delay has passed
	// (cases_time.go says why two).
	l.add("ReleaseDelayed", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 60, "A")
		c.Put(0, 0, 60, "B")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("release 1 0 60\r\n", "RELEASED\r\n")
		_, v := c.Stats("stats-job 1")
		if v["state"] != "delayed" || v["delay"] != "60" {
			t.Fatalf("stats-job after delayed release: %v", v)
		}
		c.Expect("peek-delayed\r\n", "FOUND 1 1\r\nA\r\n")
		c.Expect("reserve\r\n", "RESERVED 2 1\r\nB\r\n")
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
		c.Expect("release 2 0 1\r\n", "RELEASED\r\n")
		c.Expect("reserve-with-timeout 5\r\n", "RESERVED 2 1\r\nB\r\n")
	})
	l.add("ReleaseByOtherConnection", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Put(0, 0, 60, "A")
		a.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		b.Expect("release 1 0 0\r\n", "NOT_FOUND\r\n")
		b.Expect("bury 1 0\r\n", "NOT_FOUND\r\n")
		b.Expect("touch 1\r\n", "NOT_FOUND\r\n")
		b.Expect("delete 1\r\n", "NOT_FOUND\r\n")
		b.Expect("reserve-job 1\r\n", "NOT_FOUND\r\n")
		a.Expect("delete 1\r\n", "DELETED\r\n")
	})
	l.add("DeleteAnyUnreservedJob", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Put(0, 0, 60, "ready")
		a.Put(0, 100, 60, "delayed")
		a.Put(0, 0, 60, "buried")
		a.Expect("reserve-job 3\r\n", "RESERVED 3 6\r\nburied\r\n")
		a.Expect("bury 3 0\r\n", "BURIED\r\n")
		for id := 1; id <= 3; id++ {
			b.Expect(fmt.Sprintf("delete %d\r\n", id), "DELETED\r\n")
		}
		_, v := b.Stats("stats-tube default")
		if v["current-jobs-ready"] != "0" || v["current-jobs-delayed"] != "0" || v["current-jobs-buried"] != "0" || v["cmd-delete"] != "3" {
			t.Fatalf("stats-tube after deletes: %v", v)
		}
	})
	l.add("Bury", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(3, 0, 60, "A")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("bury 1 7\r\n", "BURIED\r\n")
		_, v := c.Stats("stats-job 1")
		if v["state"] != "buried" || v["pri"] != "7" || v["buries"] != "1" {
			t.Fatalf("stats-job after bury: %v", v)
		}
		c.Expect("bury 1 7\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
	})
	l.add("Touch", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("touch 1\r\n", "NOT_FOUND\r\n")
		c.Expect("touch 100000000000000\r\n", "NOT_FOUND\r\n")
		c.Put(0, 0, 60, "A")
		c.Expect("touch 1\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("touch 1\r\n", "TOUCHED\r\n")
	})
	l.add("KickBuriedBeforeDelayed", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 60, "A")
		c.Put(0, 0, 60, "B")
		c.Put(0, 100, 60, "C")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("reserve\r\n", "RESERVED 2 1\r\nB\r\n")
		c.Expect("bury 1 0\r\n", "BURIED\r\n")
		c.Expect("bury 2 0\r\n", "BURIED\r\n")
		c.Expect("kick 10\r\n", "KICKED 2\r\n")
		c.Expect("kick 10\r\n", "KICKED 1\r\n")
		c.Expect("kick 10\r\n", "KICKED 0\r\n")
		if got := c.Stat("stats-job 3", "kicks"); got != "1" {
			t.Fatalf("kicks %s", got)
		}
	})
	l.add("KickBound", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		for i := 0; i < 3; i++ {
			c.Put(0, 100, 60, "d")
		}
		c.Expect("kick 2\r\n", "KICKED 2\r\n")
		c.Expect("kick 0\r\n", "KICKED 0\r\n")
		c.Expect("kick 2\r\n", "KICKED 1\r\n")
	})
	l.add("KickUsedTubeOnly", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 100, 60, "d")
		c.Expect("use other\r\n", "USING other\r\n")
		c.Expect("kick 10\r\n", "KICKED 0\r\n")
		c.Expect("use default\r\n", "USING default\r\n")
		c.Expect("kick 10\r\n", "KICKED 1\r\n")
	})
	l.add("KickNumberParsing", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 100, 60, "d")
		c.Put(0, 100, 60, "d")
		c.Expect("kick 1x\r\n", "KICKED 1\r\n") // strtoul: trailing text ignored
		c.Expect("kick -1\r\n", "KICKED 1\r\n") // strtoul: -1 is the largest bound
		c.Expect("kick x\r\n", "BAD_FORMAT\r\n")
		c.Expect("kick \r\n", "BAD_FORMAT\r\n")
		c.Expect("kick 18446744073709551616\r\n", "BAD_FORMAT\r\n")
		c.Expect("kick\r\n", "UNKNOWN_COMMAND\r\n")
	})
	l.add("KickJobBuried", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 1, "A")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nA\r\n")
		c.Expect("bury 1 0\r\n", "BURIED\r\n")
		c.Expect("kick-job 100\r\n", "NOT_FOUND\r\n")
		c.Expect("kick-job 1\r\n", "KICKED\r\n")
		c.Expect("kick-job 1\r\n", "NOT_FOUND\r\n")
	})
	l.add("KickJobDelayed", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 1, "A")
		c.Put(0, 10, 1, "B")
		c.Expect("kick-job 1\r\n", "NOT_FOUND\r\n")
		c.Expect("kick-job 2\r\n", "KICKED\r\n")
		c.Expect("kick-job 2\r\n", "NOT_FOUND\r\n")
	})
	l.add("KickJobAnyTube", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use elsewhere\r\n", "USING elsewhere\r\n")
		c.Put(0, 100, 1, "A")
		Dial(t, s.Addr).Expect("kick-job 1\r\n", "KICKED\r\n")
	})
	l.add("ReserveJob", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 60, "ready")
		c.Put(0, 100, 60, "delayed")
		c.Expect("use other\r\n", "USING other\r\n")
		c.Put(0, 0, 60, "other")
		c.Expect("reserve-job 3\r\n", "RESERVED 3 5\r\nother\r\n") // a tube not watched
		c.Expect("reserve-job 3\r\n", "NOT_FOUND\r\n")
		c.Expect("reserve-job 2\r\n", "RESERVED 2 7\r\ndelayed\r\n")
		c.Expect("bury 2 0\r\n", "BURIED\r\n")
		c.Expect("reserve-job 2\r\n", "RESERVED 2 7\r\ndelayed\r\n")
		c.Expect("reserve-job 1\r\n", "RESERVED 1 5\r\nready\r\n")
		c.Expect("reserve-job 99\r\n", "NOT_FOUND\r\n")
		if got := c.Stat("stats", "current-jobs-reserved"); got != "3" {
			t.Fatalf("current-jobs-reserved %s", got)
		}
	})
	l.add("MultiTube", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use abc\r\n", "USING abc\r\n")
		c.Expect("put 999999 0 0 0\r\n\r\n", "INSERTED 1\r\n")
		c.Expect("use def\r\n", "USING def\r\n")
		c.Expect("put 99 0 0 0\r\n\r\n", "INSERTED 2\r\n")
		c.Expect("watch abc\r\n", "WATCHING 2\r\n")
		c.Expect("watch def\r\n", "WATCHING 3\r\n")
		c.Expect("reserve\r\n", "RESERVED 2 0\r\n\r\n")
	})
	l.add("ReserveOnlyWatchedTubes", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use abc\r\n", "USING abc\r\n")
		c.Put(0, 0, 60, "A")
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
		c.Expect("watch abc\r\n", "WATCHING 2\r\n")
		c.Expect("ignore default\r\n", "WATCHING 1\r\n")
		c.Expect("reserve-with-timeout 0\r\n", "RESERVED 1 1\r\nA\r\n")
	})
	l.add("CloseReleasesJob", func(t *testing.T, s *Target) {
		cons, prod := Dial(t, s.Addr), Dial(t, s.Addr)
		cons.Send("reserve-with-timeout 5\r\n")
		prod.WaitStat("stats", "current-waiting", "1")
		prod.Expect("put 0 0 100 1\r\na\r\n", "INSERTED 1\r\n")
		cons.ExpectReplies("RESERVED 1 1\r\na\r\n")
		if got := prod.Stat("stats-job 1", "state"); got != "reserved" {
			t.Fatalf("state %s", got)
		}
		cons.Close()
		prod.Expect("reserve-with-timeout 5\r\n", "RESERVED 1 1\r\na\r\n")
	})
	l.add("TTRSmall", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 0, "a")
		if got := c.Stat("stats-job 1", "ttr"); got != "1" {
			t.Fatalf("ttr %s", got)
		}
	})
	l.add("TTRLarge", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		ttrs := []int{120, 4294, 4295, 4296, 4297, 5000, 21600, 4294967295}
		for _, ttr := range ttrs {
			c.Put(0, 0, ttr, "a")
		}
		for i, ttr := range ttrs {
			if got := c.Stat(fmt.Sprintf("stats-job %d", i+1), "ttr"); got != fmt.Sprint(ttr) {
				t.Fatalf("job %d: ttr %s, want %d", i+1, got, ttr)
			}
		}
	})
	l.add("OmitTimeLeft", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Put(0, 0, 5, "a")
		if got := c.Stat("stats-job 1", "time-left"); got != "0" {
			t.Fatalf("time-left of a ready job %s", got)
		}
	})
}
