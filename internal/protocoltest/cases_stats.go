package protocoltest

import (
	"regexp"
	"strconv"
	"testing"
)

// The keys beanstalkd 1.12 prints, in its order. Reprieve prints these
// first; extension keys may follow.
var (
	statsKeys = []string{
		"current-jobs-urgent", "current-jobs-ready", "current-jobs-reserved", "current-jobs-delayed",
		"current-jobs-buried", "cmd-put", "cmd-peek", "cmd-peek-ready", "cmd-peek-delayed",
		"cmd-peek-buried", "cmd-reserve", "cmd-reserve-with-timeout", "cmd-delete", "cmd-release",
		"cmd-use", "cmd-watch", "cmd-ignore", "cmd-bury", "cmd-kick", "cmd-touch", "cmd-stats",
		"cmd-stats-job", "cmd-stats-tube", "cmd-list-tubes", "cmd-list-tube-used",
		"cmd-list-tubes-watched", "cmd-pause-tube", "job-timeouts", "total-jobs", "max-job-size",
		"current-tubes", "current-connections", "current-producers", "current-workers",
		"current-waiting", "total-connections", "pid", "version", "rusage-utime", "rusage-stime",
		"uptime", "binlog-oldest-index", "binlog-current-index", "binlog-records-migrated",
		"binlog-records-written", "binlog-max-size", "draining", "id", "hostname", "os", "platform",
	}
	statsTubeKeys = []string{
		"name", "current-jobs-urgent", "current-jobs-ready", "current-jobs-reserved",
		"current-jobs-delayed", "current-jobs-buried", "total-jobs", "current-using",
		"current-watching", "current-waiting", "cmd-delete", "cmd-pause-tube", "pause",
		"pause-time-left",
	}
	statsJobKeys = []string{
		"id", "tube", "state", "pri", "age", "delay", "ttr", "time-left", "file", "reserves",
		"timeouts", "releases", "buries", "kicks",
	}
)

func checkKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s has %d keys, want at least %d: %q", what, len(got), len(want), got)
	}
	for i, k := range want {
		if got[i] != k {
			t.Fatalf("%s key %d is %q, want %q (keys %q)", what, i, got[i], k, got)
		}
	}
}

func checkValues(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s %s = %q, want %q", what, k, got[k], w)
		}
	}
}

// Cases for stats, stats-tube and stats-job.
func (l *caseList) statsCases() {
	l.add("StatsKeys", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		keys, _ := c.Stats("stats")
		checkKeys(t, "stats", keys, statsKeys)
		c.Put(0, 0, 60, "x")
		keys, _ = c.Stats("stats-job 1")
		checkKeys(t, "stats-job", keys, statsJobKeys)
		keys, _ = c.Stats("stats-tube default")
		checkKeys(t, "stats-tube", keys, statsTubeKeys)
	})
	l.add("StatsValues", func(t *testing.T, s *Target) {
		c, w := Dial(t, s.Addr), Dial(t, s.Addr)
		c.Put(1023, 0, 60, "urgent")
		c.Put(1024, 0, 60, "normal")
		c.Put(0, 100, 60, "delayed")
		c.Put(5, 0, 60, "to bury")
		w.Expect("reserve-job 4\r\n", "RESERVED 4 7\r\nto bury\r\n")
		w.Expect("bury 4 0\r\n", "BURIED\r\n")
		w.Expect("reserve\r\n", "RESERVED 1 6\r\nurgent\r\n")
		w.Expect("use other\r\n", "USING other\r\n")
		w.Expect("watch other\r\n", "WATCHING 2\r\n")
		w.Expect("peek 1\r\n", "FOUND 1 6\r\nurgent\r\n")
		w.Expect("reserve-with-timeout 0\r\n", "RESERVED 2 6\r\nnormal\r\n")
		w.Expect("release 2 1024 0\r\n", "RELEASED\r\n")
		w.Expect("list-tubes\r\n", okList("default", "other"))
		keys, v := c.Stats("stats")
		checkKeys(t, "stats", keys, statsKeys)
		checkValues(t, "stats", v, map[string]string{
			"current-jobs-urgent": "0", "current-jobs-ready": "1", "current-jobs-reserved": "1",
			"current-jobs-delayed": "1", "current-jobs-buried": "1", "cmd-put": "4", "cmd-peek": "1",
			"cmd-reserve": "1", "cmd-reserve-with-timeout": "1", "cmd-release": "1", "cmd-use": "1",
			"cmd-watch": "1", "cmd-bury": "1", "cmd-stats": "1", "cmd-list-tubes": "1",
			"job-timeouts": "0", "total-jobs": "4", "max-job-size": "65535", "current-tubes": "2",
			"current-connections": "2", "current-producers": "1", "current-workers": "1",
			"current-waiting": "0", "draining": "false",
		})
		if pid, err := strconv.Atoi(v["pid"]); err != nil || pid <= 0 {
			t.Errorf("pid %q", v["pid"])
		}
		for k, re := range map[string]string{
			"version":      `^"[^"]+"$`,
			"rusage-utime": `^\d+\.\d{6}$`,
			"rusage-stime": `^\d+\.\d{6}$`,
			"uptime":       `^\d+$`,
			"id":           `^[0-9a-f]{16}$`,
			"hostname":     `^.+$`,
			"platform":     `^.+$`,
		} {
			if !regexp.MustCompile(re).MatchString(v[k]) {
				t.Errorf("stats %s = %q, want %s", k, v[k], re)
			}
		}
		// A deliberate difference: version is Reprieve's own.
		if s.Beanstalkd && v["version"] != `"1.12"` {
			t.Errorf("beanstalkd version %s", v["version"])
		}
	})
	l.add("StatsConnections", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		_, v := c.Stats("stats")
		total, _ := strconv.Atoi(v["total-connections"])
		if v["current-connections"] != "1" {
			t.Fatalf("current-connections %s", v["current-connections"])
		}
		d := Dial(t, s.Addr)
		d.Expect("list-tube-used\r\n", "USING default\r\n")
		_, v = c.Stats("stats")
		if v["current-connections"] != "2" || v["total-connections"] != strconv.Itoa(total+1) {
			t.Fatalf("after a second connection: current %s total %s (was %d)", v["current-connections"], v["total-connections"], total)
		}
		d.Close()
		c.WaitStat("stats", "current-connections", "1")
	})
	l.add("StatsCountsCommandsRefusedLate", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("put 0 0 1 1 x\r\n", "BAD_FORMAT\r\n")     // counted: the size was read
		c.Expect("put 0 0 1 x\r\n", "BAD_FORMAT\r\n")       // not counted
		c.Expect("put 0 0 1 1\r\nxyz", "EXPECTED_CRLF\r\n") // counted
		c.Expect("pause-tube -x 1\r\n", "BAD_FORMAT\r\n")   // counted: beanstalkd checks the name late
		c.Expect("pause-tube x\r\n", "BAD_FORMAT\r\n")      // not counted
		c.Expect("use -x\r\n", "BAD_FORMAT\r\n")            // not counted
		_, v := c.Stats("stats")
		checkValues(t, "stats", v, map[string]string{"cmd-put": "2", "cmd-pause-tube": "1", "cmd-use": "0", "total-jobs": "0"})
	})
	l.add("StatsTubeValues", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use tubea\r\n", "USING tubea\r\n")
		c.Expect("put 0 0 0 1\r\nx\r\n", "INSERTED 1\r\n")
		c.Expect("delete 1\r\n", "DELETED\r\n")
		c.Put(1, 0, 60, "u")
		c.Put(2000, 100, 60, "d")
		keys, v := c.Stats("stats-tube tubea")
		checkKeys(t, "stats-tube", keys, statsTubeKeys)
		checkValues(t, "stats-tube tubea", v, map[string]string{
			"name": "tubea", "current-jobs-urgent": "1", "current-jobs-ready": "1", "current-jobs-reserved": "0",
			"current-jobs-delayed": "1", "current-jobs-buried": "0", "total-jobs": "3", "current-using": "1",
			"current-watching": "0", "current-waiting": "0", "cmd-delete": "1", "cmd-pause-tube": "0",
			"pause": "0", "pause-time-left": "0",
		})
		// Only c is left once the server has seen the harness's own probe
		// connection close (beanstalkd notices a close a little later).
		c.WaitStat("stats-tube default", "current-using", "0")
		_, v = c.Stats("stats-tube default")
		checkValues(t, "stats-tube default", v, map[string]string{
			"name": "default", "total-jobs": "0", "current-using": "0", "current-watching": "1", "cmd-delete": "0",
		})
	})
	l.add("StatsJobValues", func(t *testing.T, s *Target) {
		c := Dial(t, s.Addr)
		c.Expect("use jobs\r\n", "USING jobs\r\n")
		c.Put(77, 0, 100, "x")
		keys, v := c.Stats("stats-job 1")
		checkKeys(t, "stats-job", keys, statsJobKeys)
		file := "0" // no log
		if s.Durable {
			file = "1" // the first log file
		}
		checkValues(t, "stats-job", v, map[string]string{
			"id": "1", "tube": "jobs", "state": "ready", "pri": "77", "delay": "0", "ttr": "100",
			"time-left": "0", "file": file, "reserves": "0", "timeouts": "0", "releases": "0",
			"buries": "0", "kicks": "0",
		})
		if v["age"] != "0" && v["age"] != "1" {
			t.Errorf("age %s", v["age"])
		}
		c.Expect("watch jobs\r\n", "WATCHING 2\r\n")
		c.Expect("reserve\r\n", "RESERVED 1 1\r\nx\r\n")
		_, v = c.Stats("stats-job 1")
		if v["state"] != "reserved" || v["reserves"] != "1" || (v["time-left"] != "99" && v["time-left"] != "100") {
			t.Errorf("stats-job of a reserved job: %v", v)
		}
		c.Expect("stats-job 2\r\n", "NOT_FOUND\r\n")
	})
	l.add("Drain", func(t *testing.T, s *Target) {
		c, w := Dial(t, s.Addr), Dial(t, s.Addr)
		c.Put(0, 0, 60, "before")
		s.Drain(t)
		c.Expect("put 0 0 1 1\r\nx\r\n", "DRAINING\r\n")
		// Bad bodies are still refused as such.
		c.Expect("put 0 0 1 1\r\nxyz", "EXPECTED_CRLF\r\n")
		w.Expect("reserve\r\n", "RESERVED 1 6\r\nbefore\r\n")
		w.Expect("delete 1\r\n", "DELETED\r\n")
		_, v := c.Stats("stats")
		checkValues(t, "stats", v, map[string]string{"draining": "true", "cmd-put": "3", "total-jobs": "1"})
	})
}
