package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/stats"
)

// TestServerStatsMatchesWire checks that /api/v1/stats has the keys of the
// beanstalk stats reply, in its order, with the same values.
func TestServerStatsMatchesWire(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	put(t, c, "mail", "b")
	bury(t, c, "mail", "c", "smtp down")
	e.clk.Advance(90 * time.Second)

	wire, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	r := e.do(t, "GET", "/api/v1/stats")
	r.decode(t, &got)
	for key, v := range wire {
		switch key {
		case "rusage-utime", "rusage-stime":
			continue // moving
		case "cmd-stats":
			v = "1" // the wire's own stats command was counted after
		}
		if got[key] == nil {
			t.Errorf("%s missing from the JSON", key)
			continue
		}
		s := fmt.Sprint(got[key])
		if f, ok := got[key].(float64); ok {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if s != v {
			t.Errorf("%s: JSON %s, wire %s", key, s, v)
		}
	}
	for key := range got {
		if _, ok := wire[key]; !ok {
			t.Errorf("JSON key %s is not in the wire reply", key)
		}
	}
	for key, want := range map[string]any{
		"current-jobs-ready": 2.0, "current-jobs-buried": 1.0, "cmd-put": 3.0, "cmd-fail": 1.0,
		"total-failures": 1.0, "uptime": 90.0, "version": server.Version, "draining": false,
		"pid": float64(os.Getpid()), "max-job-size": 65535.0, "binlog-max-size": 10485760.0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	// The keys come in the wire's order.
	order := []string{`"current-jobs-urgent"`, `"cmd-put"`, `"cmd-pause-tube"`, `"job-timeouts"`,
		`"total-connections"`, `"pid"`, `"uptime"`, `"binlog-max-size"`, `"draining"`, `"platform"`, `"cmd-fail"`, `"total-expired"`}
	last := -1
	for _, k := range order {
		i := strings.Index(r.body, k)
		if i <= last {
			t.Errorf("key %s out of order in\n%s", k, r.body)
		}
		last = i
	}
}

// TestTubeStats checks the exact JSON of one tube and of the tube list.
func TestTubeStats(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	bury(t, c, "mail", "bb", "smtp down")
	if err := c.PauseTube(context.Background(), "mail", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(10 * time.Second)
	mail := `{
  "name": "mail",
  "current-jobs-urgent": 0,
  "current-jobs-ready": 1,
  "current-jobs-reserved": 0,
  "current-jobs-delayed": 0,
  "current-jobs-buried": 1,
  "total-jobs": 2,
  "current-using": 1,
  "current-watching": 1,
  "current-waiting": 0,
  "cmd-delete": 0,
  "cmd-pause-tube": 1,
  "pause": 30,
  "pause-time-left": 20,
  "total-failures": 1,
  "total-gave-up": 1,
  "total-expired": 0,
  "current-buried-bytes": 2,
  "limit-concurrency": 0,
  "limit-rate": "",
  "limit-burst": 0,
  "unique": "",
  "total-held-by-concurrency": 0,
  "total-held-by-rate": 0,
  "total-duplicates": 0
}
`
	e.do(t, "GET", "/api/v1/tubes/mail").want(t, "GET tube mail", 200, mail)

	var list struct {
		Tubes []map[string]any `json:"tubes"`
	}
	e.do(t, "GET", "/api/v1/tubes").decode(t, &list)
	if len(list.Tubes) != 2 || list.Tubes[0]["name"] != "default" || list.Tubes[1]["name"] != "mail" ||
		list.Tubes[1]["current-jobs-buried"] != 1.0 || list.Tubes[0]["current-watching"] != 1.0 {
		t.Errorf("tube list: %v", list.Tubes)
	}

	e.do(t, "GET", "/api/v1/tubes/nope").want(t, "GET missing tube", 404,
		"{\n  \"error\": \"tube \\\"nope\\\" not found\",\n  \"code\": \"not_found\"\n}\n")
}

// TestBuriedJobsPaged lists a tube's buried jobs with their failure
// history, page by page.
func TestBuriedJobsPaged(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	id1 := bury(t, c, "mail", "first", "smtp: connection refused")
	e.clk.Advance(time.Minute)
	id2 := bury(t, c, "mail", "second", "smtp: 550 no such user")
	id3 := bury(t, c, "mail", "third", "template missing")
	put(t, c, "mail", "ready one")
	e.clk.Advance(time.Minute)

	page1 := fmt.Sprintf(`{
  "tube": "mail",
  "state": "buried",
  "jobs": [
    {
      "id": %d,
      "tube": "mail",
      "state": "buried",
      "pri": 1024,
      "age": 120,
      "delay": 0,
      "ttr": 60,
      "time-left": 0,
      "file": 0,
      "reserves": 1,
      "timeouts": 0,
      "releases": 0,
      "buries": 1,
      "kicks": 0,
      "size": 5,
      "failures": 1,
      "first-error": "smtp: connection refused",
      "last-error": "smtp: connection refused",
      "first-failure": "2026-03-01T12:00:00Z",
      "last-failure": "2026-03-01T12:00:00Z",
      "origin": "mail",
      "gave-up": "buried",
      "revivals": 0,
      "last-revival": null
    }
  ],
  "next_after": %d
}
`, id1, id1)
	e.do(t, "GET", "/api/v1/tubes/mail/jobs?limit=1").want(t, "page 1", 200, page1)

	var page struct {
		Jobs []struct {
			ID        uint64 `json:"id"`
			LastError string `json:"last-error"`
			Failure   string `json:"last-failure"`
		} `json:"jobs"`
		NextAfter *uint64 `json:"next_after"`
	}
	e.do(t, "GET", fmt.Sprintf("/api/v1/tubes/mail/jobs?state=buried&after=%d&limit=2", id1)).decode(t, &page)
	if len(page.Jobs) != 2 || page.Jobs[0].ID != id2 || page.Jobs[1].ID != id3 ||
		page.Jobs[0].LastError != "smtp: 550 no such user" || page.Jobs[1].Failure != "2026-03-01T12:01:00Z" ||
		page.NextAfter == nil || *page.NextAfter != id3 {
		t.Errorf("page 2: %+v", page)
	}
	page.Jobs, page.NextAfter = nil, nil
	e.do(t, "GET", fmt.Sprintf("/api/v1/tubes/mail/jobs?after=%d", id3)).decode(t, &page)
	if len(page.Jobs) != 0 || page.NextAfter != nil {
		t.Errorf("last page: %+v", page)
	}
	e.do(t, "GET", "/api/v1/tubes/mail/jobs?state=all&limit=1000").decode(t, &page)
	if len(page.Jobs) != 4 || page.NextAfter != nil {
		t.Errorf("every state: %+v", page)
	}
	e.do(t, "GET", "/api/v1/tubes/mail/jobs?state=ready").decode(t, &page)
	if len(page.Jobs) != 1 || page.Jobs[0].ID != id3+1 {
		t.Errorf("ready: %+v", page)
	}
}

// TestJob shows one job with its body as text or base64.
func TestJob(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	text := put(t, c, "default", "héllo\nworld")
	bin := put(t, c, "default", "\xff\x00\x01")
	e.clk.Advance(5 * time.Second)
	e.do(t, "GET", fmt.Sprintf("/api/v1/jobs/%d", text)).want(t, "text job", 200, fmt.Sprintf(`{
  "id": %d,
  "tube": "default",
  "state": "ready",
  "pri": 1024,
  "age": 5,
  "delay": 0,
  "ttr": 60,
  "time-left": 0,
  "file": 0,
  "reserves": 0,
  "timeouts": 0,
  "releases": 0,
  "buries": 0,
  "kicks": 0,
  "size": 12,
  "failures": 0,
  "first-error": "",
  "last-error": "",
  "first-failure": null,
  "last-failure": null,
  "origin": "default",
  "gave-up": "",
  "revivals": 0,
  "last-revival": null,
  "body-encoding": "text",
  "body": "héllo\nworld"
}
`, text))
	var j map[string]any
	e.do(t, "GET", fmt.Sprintf("/api/v1/jobs/%d", bin)).decode(t, &j)
	if j["body-encoding"] != "base64" || j["body"] != "/wAB" || j["size"] != 3.0 {
		t.Errorf("binary job: %v", j)
	}
	e.do(t, "GET", "/api/v1/jobs/999").want(t, "missing job", 404,
		"{\n  \"error\": \"job 999 not found\",\n  \"code\": \"not_found\"\n}\n")
}

// TestKick kicks through the API and checks over the protocol that the
// jobs are ready again.
func TestKick(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	ctx := context.Background()
	a := bury(t, c, "mail", "a", "smtp: timeout")
	b := bury(t, c, "mail", "b", "template missing")
	d := bury(t, c, "mail", "d", "smtp: refused")

	// By error text: only the matching jobs, longest buried first.
	e.do(t, "POST", "/api/v1/tubes/mail/kick?error=smtp:&bound=1").want(t, "kick by text", 200,
		"{\n  \"tube\": \"mail\",\n  \"kicked\": 1\n}\n")
	if j, err := c.ReserveWithTimeout(ctx, 0); err != nil || j.ID != a {
		t.Fatalf("reserve after kick by text: %v %v, want job %d", j, err, a)
	}
	// One job.
	e.do(t, "POST", fmt.Sprintf("/api/v1/jobs/%d/kick", d)).want(t, "kick job", 200,
		fmt.Sprintf("{\n  \"kicked\": %d\n}\n", d))
	if j, err := c.ReserveWithTimeout(ctx, 0); err != nil || j.ID != d {
		t.Fatalf("reserve after kick-job: %v %v, want job %d", j, err, d)
	}
	e.do(t, "POST", fmt.Sprintf("/api/v1/jobs/%d/kick", d)).want(t, "kick a reserved job", 409,
		fmt.Sprintf("{\n  \"error\": \"job %d is reserved; only a buried or delayed job can be kicked\",\n  \"code\": \"not_kickable\"\n}\n", d))
	// The rest, as beanstalk's kick with no bound.
	e.do(t, "POST", "/api/v1/tubes/mail/kick").want(t, "kick all", 200,
		"{\n  \"tube\": \"mail\",\n  \"kicked\": 1\n}\n")
	if j, err := c.ReserveWithTimeout(ctx, 0); err != nil || j.ID != b {
		t.Fatalf("reserve after kick: %v %v, want job %d", j, err, b)
	}
	st, err := c.StatsJob(ctx, b)
	if err != nil || st["kicks"] != "1" || st["state"] != "reserved" {
		t.Errorf("stats-job %d after the kick: %v %v", b, st, err)
	}
	// A delayed job is kicked when nothing is buried.
	if _, err := c.PutIn(ctx, "later", []byte("x"), 0, time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	e.do(t, "POST", "/api/v1/tubes/later/kick?bound=5").want(t, "kick delayed", 200,
		"{\n  \"tube\": \"later\",\n  \"kicked\": 1\n}\n")
	e.do(t, "POST", "/api/v1/tubes/nope/kick").want(t, "kick missing tube", 404,
		"{\n  \"error\": \"tube \\\"nope\\\" not found\",\n  \"code\": \"not_found\"\n}\n")

	logs := e.logs.String()
	for _, want := range []string{`msg="admin: tube kicked" tube=mail bound=1 error=smtp: kicked=1 remote=127.0.0.1:`,
		fmt.Sprintf(`msg="admin: job kicked" id=%d tube=mail state=buried remote=127.0.0.1:`, d)} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestDeleteJob deletes a buried job and refuses a reserved one.
func TestDeleteJob(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	ctx := context.Background()
	id := bury(t, c, "mail", "a", "boom")
	e.do(t, "DELETE", fmt.Sprintf("/api/v1/jobs/%d", id)).want(t, "delete", 200,
		fmt.Sprintf("{\n  \"deleted\": %d\n}\n", id))
	if _, err := c.Peek(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("peek a deleted job: %v", err)
	}
	e.do(t, "DELETE", fmt.Sprintf("/api/v1/jobs/%d", id)).want(t, "delete again", 404,
		fmt.Sprintf("{\n  \"error\": \"job %d not found\",\n  \"code\": \"not_found\"\n}\n", id))

	r := put(t, c, "default", "held")
	if _, err := c.ReserveJob(ctx, r); err != nil {
		t.Fatal(err)
	}
	e.do(t, "DELETE", fmt.Sprintf("/api/v1/jobs/%d", r)).want(t, "delete reserved", 409,
		fmt.Sprintf("{\n  \"error\": \"job %d is reserved by a worker; delete it once it is released, buried or its TTR has passed\",\n  \"code\": \"reserved\"\n}\n", r))
	if err := c.Delete(ctx, r); err != nil {
		t.Errorf("the worker's delete after the refused one: %v", err)
	}
	if !strings.Contains(e.logs.String(), fmt.Sprintf(`msg="admin: job deleted" id=%d tube=mail state=buried remote=127.0.0.1:`, id)) {
		t.Errorf("no log of the delete:\n%s", e.logs.String())
	}
}

// TestPauseAndFlush pauses, unpauses and flushes a tube.
func TestPauseAndFlush(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	ctx := context.Background()
	put(t, c, "mail", "a")
	bury(t, c, "mail", "b", "boom")
	bury(t, c, "mail", "c", "boom")

	e.do(t, "POST", "/api/v1/tubes/mail/pause?delay=1m30s").want(t, "pause", 200,
		"{\n  \"tube\": \"mail\",\n  \"pause\": 90\n}\n")
	st, err := c.StatsTube(ctx, "mail")
	if err != nil || st["pause"] != "90" || st["pause-time-left"] != "90" {
		t.Errorf("stats-tube after pause: %v %v", st, err)
	}
	e.do(t, "POST", "/api/v1/tubes/mail/unpause").want(t, "unpause", 200,
		"{\n  \"tube\": \"mail\",\n  \"pause\": 0\n}\n")
	if st, err = c.StatsTube(ctx, "mail"); err != nil || st["pause-time-left"] != "0" {
		t.Errorf("stats-tube after unpause: %v %v", st, err)
	}

	e.do(t, "POST", "/api/v1/tubes/mail/flush?state=buried").want(t, "flush buried", 200,
		"{\n  \"tube\": \"mail\",\n  \"state\": \"buried\",\n  \"flushed\": 2\n}\n")
	if st, err = c.StatsTube(ctx, "mail"); err != nil || st["current-jobs-buried"] != "0" || st["current-jobs-ready"] != "1" {
		t.Errorf("stats-tube after flush: %v %v", st, err)
	}
	for _, want := range []string{`msg="admin: tube paused" tube=mail delay=1m30s remote=127.0.0.1:`,
		`msg="admin: tube unpaused" tube=mail remote=127.0.0.1:`,
		`msg="admin: tube flushed" tube=mail state=buried flushed=2 remote=127.0.0.1:`} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, e.logs.String())
		}
	}
}

// TestErrors checks the status, code and message of bad requests.
func TestErrors(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	for _, tt := range []struct {
		method, path string
		status       int
		code, msg    string
		allow        string
	}{
		{"POST", "/api/v1/stats", 405, "method_not_allowed", "POST is not allowed on /api/v1/stats; use GET or HEAD", "GET, HEAD"},
		{"GET", "/api/v1/tubes/mail/kick", 405, "method_not_allowed", "GET is not allowed on /api/v1/tubes/mail/kick; use POST", "POST"},
		{"PUT", "/api/v1/jobs/1", 405, "method_not_allowed", "PUT is not allowed on /api/v1/jobs/1; use GET or HEAD or DELETE", "GET, HEAD, DELETE"},
		{"GET", "/api/v1/jobs/abc", 400, "bad_request", `parameter id="abc": want a job id, a whole number from 1`, ""},
		{"GET", "/api/v1/jobs/0", 400, "bad_request", `parameter id="0": want a job id, a whole number from 1`, ""},
		{"GET", "/api/v1/tubes/mail/jobs?state=dead", 400, "bad_request", `parameter state="dead": want ready, delayed, reserved, buried or all`, ""},
		{"GET", "/api/v1/tubes/mail/jobs?limit=0", 400, "bad_request", `parameter limit="0": want a whole number from 1 to 1000`, ""},
		{"GET", "/api/v1/tubes/mail/jobs?limit=1001", 400, "bad_request", `parameter limit="1001": want a whole number from 0 to 1000`, ""},
		{"GET", "/api/v1/tubes/mail/jobs?after=-1", 400, "bad_request", `parameter after="-1": want a whole number from 0 to 9223372036854775807`, ""},
		{"POST", "/api/v1/tubes/mail/kick?bound=x", 400, "bad_request", `parameter bound="x": want a whole number from 0 to 2147483647`, ""},
		{"POST", "/api/v1/tubes/mail/pause", 400, "bad_request", `parameter delay="": want seconds (30) or a duration (1m30s): how long the tube stays paused`, ""},
		{"POST", "/api/v1/tubes/mail/pause?delay=soon", 400, "bad_request", `parameter delay="soon": want seconds (30) or a duration (1m30s) from 0 to 4294967295 s`, ""},
		{"POST", "/api/v1/tubes/mail/flush", 400, "bad_request", `parameter state="": want ready, delayed, reserved, buried or all (required)`, ""},
		{"POST", "/api/v1/tubes/nope/pause?delay=5", 404, "not_found", `tube "nope" not found`, ""},
		{"POST", "/api/v1/tubes/nope/flush?state=all", 404, "not_found", `tube "nope" not found`, ""},
		{"GET", "/api/v1/tubes/nope/jobs", 404, "not_found", `tube "nope" not found`, ""},
		{"POST", "/api/v1/jobs/77/kick", 404, "not_found", `job 77 not found`, ""},
		{"GET", "/api/v1/nothing", 404, "not_found", "no such endpoint: /api/v1/nothing (see docs/admin.md)", ""},
		{"GET", "/nothing", 404, "not_found", "no such page: /nothing (the dashboard is at /, the API under /api/v1)", ""},
	} {
		r := e.do(t, tt.method, tt.path)
		want := fmt.Sprintf("{\n  \"error\": %s,\n  \"code\": %q\n}\n", strconv.Quote(tt.msg), tt.code)
		r.want(t, tt.method+" "+tt.path, tt.status, want)
		if r.header.Get("Content-Type") != "application/json" || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: headers %v", tt.method, tt.path, r.header)
		}
	}
}

// TestTubeNamesInPaths reaches a tube whose name holds a slash and other
// characters beanstalk allows, escaped in the path.
func TestTubeNamesInPaths(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	name := "jobs/eu-1;(x)+$_."
	put(t, c, name, "a")
	var ts map[string]any
	e.do(t, "GET", "/api/v1/tubes/"+strings.ReplaceAll(name, "/", "%2F")).decode(t, &ts)
	if ts["name"] != name || ts["current-jobs-ready"] != 1.0 {
		t.Errorf("tube %q: %v", name, ts)
	}
}

// TestHealth checks /healthz and /readyz, which drain mode and a shutdown
// turn to 503.
func TestHealth(t *testing.T) {
	e := start(t, options{token: "secret"})
	e.doToken(t, "GET", "/healthz", "").want(t, "healthz", 200, "ok\n")
	e.doToken(t, "GET", "/readyz", "").want(t, "readyz", 200, "ready\n")
	e.srv.Server.SetDraining(true)
	e.doToken(t, "GET", "/readyz", "").want(t, "readyz draining", 503, "draining\n")
	e.doToken(t, "GET", "/healthz", "").want(t, "healthz draining", 200, "ok\n")
	if r := e.doToken(t, "POST", "/healthz", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", r.status)
	}
	if err := e.srv.Server.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.doToken(t, "GET", "/readyz", "").want(t, "readyz stopping", 503, "stopping\n")
}

// TestServerStatsTypes checks how stats values become JSON: numbers and
// booleans typed, the keys that name things kept as text even when they
// look like numbers, raw text from the log typed when it reads as a number.
func TestServerStatsTypes(t *testing.T) {
	e := start(t, options{config: func(c *admin.Config) {
		c.Stats = func() []stats.Entry {
			return []stats.Entry{
				{Key: "pid", Value: stats.Int(7)}, {Key: "version", Value: stats.Quoted("2")},
				{Key: "rusage-utime", Value: stats.Micros(1500 * time.Microsecond)},
				{Key: "binlog-oldest-index", Value: stats.Int(-1)}, {Key: "draining", Value: stats.Bool(false)},
				{Key: "hostname", Value: stats.Text("1234")}, {Key: "wal-fsync-policy", Value: stats.Raw("interval=50ms")},
				{Key: "wal-fsyncs", Value: stats.Raw("12")},
			}
		}
	}})
	e.do(t, "GET", "/api/v1/stats").want(t, "stats", 200, `{
  "pid": 7,
  "version": "2",
  "rusage-utime": 0.0015,
  "binlog-oldest-index": -1,
  "draining": false,
  "hostname": "1234",
  "wal-fsync-policy": "interval=50ms",
  "wal-fsyncs": 12
}
`)
}

// TestTubeAndJobMatchWire checks that a tube's and a job's JSON have the
// keys and values of stats-tube and stats-job: the admin interface encodes
// them from the broker itself, so this keeps the two alike.
func TestTubeAndJobMatchWire(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	id := bury(t, c, "mail", "b", "smtp: 550 no such user")
	e.clk.Advance(42 * time.Second)
	ctx := context.Background()

	compare := func(what string, wire map[string]string, got map[string]any, extra ...string) {
		t.Helper()
		for key, v := range wire {
			g, ok := got[key]
			if !ok {
				t.Errorf("%s: %s missing from the JSON", what, key)
				continue
			}
			s := fmt.Sprint(g)
			switch x := g.(type) {
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
				s = ""
			}
			if s != v {
				t.Errorf("%s: %s: JSON %q, wire %q", what, key, s, v)
			}
		}
		for key := range got {
			if _, ok := wire[key]; !ok && !slices.Contains(extra, key) {
				t.Errorf("%s: JSON key %s is not in the wire reply", what, key)
			}
		}
	}

	wireTube, err := c.StatsTube(ctx, "mail")
	if err != nil {
		t.Fatal(err)
	}
	var tube map[string]any
	e.do(t, "GET", "/api/v1/tubes/mail").decode(t, &tube)
	compare("tube", wireTube, tube)

	wireJob, err := c.StatsJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var jb map[string]any
	e.do(t, "GET", "/api/v1/jobs/"+strconv.FormatUint(id, 10)).decode(t, &jb)
	compare("job", wireJob, jb, "body", "body-encoding")
}
