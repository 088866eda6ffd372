package protocoltest

import (
	"fmt"
	"strings"
	"testing"
)

// Cases for tubes: use, watch, ignore, the lists, their lifecycle, pause.
func (l *caseList) tubeCases() {
	l.add("UseWatchIgnore", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("list-tube-used\r\n", "USING default\r\n")
		c.Expect("use foo\r\n", "USING foo\r\n")
		c.Expect("list-tube-used\r\n", "USING foo\r\n")
		c.Expect("watch foo\r\n", "WATCHING 2\r\n")
		c.Expect("watch foo\r\n", "WATCHING 2\r\n")
		c.Expect("ignore bar\r\n", "WATCHING 2\r\n")
		c.Expect("ignore foo\r\n", "WATCHING 1\r\n")
		c.Expect("ignore default\r\n", "NOT_IGNORED\r\n")
		c.Expect("ignore nothere\r\n", "WATCHING 1\r\n")
	})
	l.add("ListTubes", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("watch w\r\n", "WATCHING 2\r\n")
		c.Expect("use u\r\n", "USING u\r\n")
		c.Expect("list-tubes\r\n", okList("default", "w", "u"))
		c.Expect("list-tube-used\r\n", "USING u\r\n")
		c.Expect("list-tubes-watched\r\n", okList("default", "w"))
		c.Expect("ignore default\r\n", "WATCHING 1\r\n")
		c.Expect("list-tubes-watched\r\n", okList("w"))
		c.Expect("ignore w\r\n", "NOT_IGNORED\r\n")
	})
	l.add("TubeLifecycle", func(t *testing.T, s *Target) {
		c, other := Dial(t, s.Addr), Dial(t, s.Addr)
		c.Expect("use foo\r\n", "USING foo\r\n")
		other.Expect("list-tubes\r\n", okList("default", "foo"))
		if got := other.Stat("stats-tube foo", "current-using"); got != "1" {
			t.Fatalf("current-using %s", got)
		}
		c.Expect("use default\r\n", "USING default\r\n")
		other.Expect("list-tubes\r\n", okList("default"))
		other.Expect("stats-tube foo\r\n", "NOT_FOUND\r\n")

		// A tube with a job outlives its users.
		c.Expect("use foo\r\n", "USING foo\r\n")
		c.Put(0, 0, 60, "x")
		c.Expect("use default\r\n", "USING default\r\n")
		other.Expect("list-tubes\r\n", okList("default", "foo"))
		other.Expect("delete 1\r\n", "DELETED\r\n")
		other.Expect("list-tubes\r\n", okList("default"))

		// So does a watched tube, until it is ignored or its watcher leaves.
		c.Expect("watch bar\r\n", "WATCHING 2\r\n")
		other.Expect("list-tubes\r\n", okList("default", "bar"))
		c.Expect("ignore bar\r\n", "WATCHING 1\r\n")
		other.Expect("list-tubes\r\n", okList("default"))
		c.Expect("watch bar\r\n", "WATCHING 2\r\n")
		c.Close()
		other.WaitStat("stats", "current-tubes", "1")
	})
	l.add("DefaultTubeNeverRemoved", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use foo\r\n", "USING foo\r\n")
		c.Expect("watch foo\r\n", "WATCHING 2\r\n")
		c.Expect("ignore default\r\n", "WATCHING 1\r\n")
		c.Expect("list-tubes\r\n", okList("default", "foo"))
	})
	l.add("TubeNameRules", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		n200 := strings.Repeat("a", 200)
		c.Expect("use "+n200+"\r\n", "USING "+n200+"\r\n")
		c.Expect("use "+n200+"b\r\n", "BAD_FORMAT\r\n")
		c.Expect("use x_y\r\n", "USING x_y\r\n")
		c.Expect("use foo-\r\n", "USING foo-\r\n")
		all := "ABCXYZabcxyz0189-+/;.$_()"
		c.Expect("use "+all+"\r\n", "USING "+all+"\r\n")
		for _, bad := range []string{"-foo", "a b", "a*b", "a\tb", "a:b", "é", "", " foo", "foo "} {
			c.Expect("use "+bad+"\r\n", "BAD_FORMAT\r\n")
			c.Expect("watch "+bad+"\r\n", "BAD_FORMAT\r\n")
			c.Expect("ignore "+bad+"\r\n", "BAD_FORMAT\r\n")
			c.Expect("stats-tube "+bad+"\r\n", "BAD_FORMAT\r\n")
		}
		c.Expect("stats-tube "+n200+"b\r\n", "BAD_FORMAT\r\n")
		c.Expect("watch "+n200+"\r\n", "WATCHING 2\r\n")
		c.Expect("list-tube-used\r\n", "USING "+all+"\r\n")
	})
	l.add("PauseTube", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 0 1\r\nx\r\n", "INSERTED 1\r\n")
		c.Expect("pause-tube default 1\r\n", "PAUSED\r\n")
		_, v := c.Stats("stats-tube default")
		if v["pause"] != "1" || v["cmd-pause-tube"] != "1" || (v["pause-time-left"] != "0" && v["pause-time-left"] != "1") {
			t.Fatalf("stats-tube of a paused tube: %v", v)
		}
		c.Expect("reserve-with-timeout 0\r\n", "TIMED_OUT\r\n")
		c.Expect("peek-ready\r\n", "FOUND 1 1\r\nx\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nx\r\n")
		if got := c.Stat("stats-tube default", "pause"); got != "0" {
			t.Fatalf("pause after the pause ended: %s", got)
		}
	})
	l.add("PauseTubeErrors", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("pause-tube nosuch 1\r\n", "NOT_FOUND\r\n")
		c.Expect("pause-tube default\r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube default x\r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube default 1 \r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube -x 1\r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube default 4294967296\r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube\r\n", "BAD_FORMAT\r\n")
		c.Expect("pause-tube default 0\r\n", "PAUSED\r\n")
		// beanstalkd reads the name as the run of name characters after
		// "pause-tube", space or not.
		c.Expect("pause-tubedefault 0\r\n", "PAUSED\r\n")
	})
	l.add("UnpauseTube", func(t *testing.T, s *Target) {
		a, b := Dial(t, s.Addr), Dial(t, s.Addr)
		a.Expect("put 0 0 0 0\r\n\r\n", "INSERTED 1\r\n")
		a.Expect("pause-tube default 86400\r\n", "PAUSED\r\n")
		b.Send("reserve\r\n")
		a.WaitStat("stats", "current-waiting", "1")
		a.Expect("pause-tube default 0\r\n", "PAUSED\r\n")
		b.ExpectReplies("RESERVED 1 0\r\n\r\n")
	})
}

// okList is the reply to list-tubes or list-tubes-watched for names.
func okList(names ...string) string {
	body := "---\n"
	for _, n := range names {
		body += "- " + n + "\n"
	}
	return fmt.Sprintf("OK %d\r\n%s\r\n", len(body), body)
}
