package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
)

// testCLI runs client subcommands in-process with REPRIEVE_ADDR set to
// addr and its output captured.
type testCLI struct {
	t   *testing.T
	env map[string]string
}

func newTestCLI(t *testing.T, addr string) *testCLI {
	return &testCLI{t: t, env: map[string]string{"REPRIEVE_ADDR": addr}}
}

// run runs cmd with args and stdin, and returns its output and error.
func (tc *testCLI) run(stdin string, cmd func(*cli, []string) error, args ...string) (string, error) {
	var out bytes.Buffer
	c := &cli{ctx: context.Background(), in: strings.NewReader(stdin), out: &out, getenv: func(k string) string { return tc.env[k] }}
	err := c.run(cmd, args)
	return out.String(), err
}

// ok runs cmd and fails the test unless it succeeds with output want.
func (tc *testCLI) ok(want string, cmd func(*cli, []string) error, args ...string) {
	tc.t.Helper()
	got, err := tc.run("", cmd, args...)
	if err != nil {
		tc.t.Fatalf("%v: %v (output %q)", args, err, got)
	}
	if got != want {
		tc.t.Fatalf("%v printed\n%s\nwant\n%s", args, got, want)
	}
}

// fails runs cmd and fails the test unless it fails with the message want
// and prints nothing.
func (tc *testCLI) fails(want string, cmd func(*cli, []string) error, args ...string) error {
	tc.t.Helper()
	got, err := tc.run("", cmd, args...)
	if err == nil || err.Error() != want {
		tc.t.Fatalf("%v = %v; want the error %q", args, err, want)
	}
	if got != "" {
		tc.t.Fatalf("%v printed %q on failure", args, got)
	}
	return err
}

// TestClientCommandsOneServer runs every client subcommand against a real
// beanstalkd and against Reprieve's own server: the output is the same.
func TestClientCommandsOneServer(t *testing.T) {
	t.Run("beanstalkd", func(t *testing.T) {
		t.Parallel()
		testClientCommands(t, servertest.StartDurableBeanstalkd(t).Addr)
	})
	t.Run("reprieve", func(t *testing.T) {
		t.Parallel()
		testClientCommands(t, servertest.Start(t, nil).Addr)
	})
}

func testClientCommands(t *testing.T, a string) {
	tc := newTestCLI(t, a)

	tc.ok("inserted job 1 into tube default on "+a+"\n", (*cli).put, "hello")
	got, err := tc.run("from stdin\n", (*cli).put, "--tube", "mail", "--pri", "5", "--ttr", "90")
	if err != nil || got != "inserted job 2 into tube mail on "+a+"\n" {
		t.Fatalf("put from stdin = %q, %v", got, err)
	}
	got, err = tc.run("x\ny\n", (*cli).put, "--lines", "--json", "--tube=mail", "--delay", "1h")
	if want := `{"id":3,"addr":"` + a + `","tube":"mail"}` + "\n" + `{"id":4,"addr":"` + a + `","tube":"mail"}` + "\n"; err != nil || got != want {
		t.Fatalf("put --lines --json = %q, %v; want %q", got, err, want)
	}

	tc.ok("found job 2 on "+a+" (11 bytes)\nfrom stdin\n", (*cli).peek, "2")
	tc.ok(`{"id":2,"addr":"`+a+`","bytes":11,"body":"from stdin\n"}`+"\n", (*cli).peek, "--json", "2")
	tc.ok("found job 3 on "+a+" (1 bytes)\nx\n", (*cli).peekDelayed, "--tube", "mail")
	tc.fails(`no buried job in tube mail on `+a, (*cli).peekBuried, "--tube", "mail")
	tc.fails("job 42 not found on "+a, (*cli).peek, "42")

	tc.ok("TUBE     READY  RESERVED  DELAYED  BURIED  PAUSED\n"+
		"default      1         0        0       0  -\n"+
		"mail         1         0        2       0  -\n", (*cli).tubes)
	tc.ok("default\nmail\n", (*cli).tubes, "--names")
	tc.ok(`["default","mail"]`+"\n", (*cli).tubes, "--names", "--json")

	tc.ok("reserved job 2 on "+a+" (11 bytes)\nfrom stdin\nburied job 2 on "+a+"\n", (*cli).reserve, "--tube", "mail", "--timeout", "0", "--bury")
	tc.ok("found job 2 on "+a+" (11 bytes)\nfrom stdin\n", (*cli).peekBuried, "--tube", "mail")
	stats := statsOf(t, a, 2)
	if stats.Text("state") != "buried" || stats.Text("pri") != "5" {
		t.Fatalf("reserve --bury left %v; want buried with its priority 5", stats)
	}
	tc.ok("kicked 1 job in tube mail on "+a+"\n", (*cli).kick, "--tube", "mail", "5")                // the buried job only
	tc.ok(`{"addr":"`+a+`","tube":"mail","kicked":1}`+"\n", (*cli).kick, "--json", "--tube", "mail") // then one delayed

	tc.ok("buried job 3 on "+a+"\n", (*cli).bury, "3")
	tc.ok("kicked job 3 on "+a+"\n", (*cli).kickJob, "3")
	tc.ok("released job 3 on "+a+"\n", (*cli).release, "3", "--delay", "30", "--pri", "7")
	if s := statsOf(t, a, 3); s.Text("state") != "delayed" || s.Text("pri") != "7" || s.Text("delay") != "30" {
		t.Fatalf("release --delay 30 --pri 7 left %v", s)
	}
	tc.ok("touched job 1 on "+a+"\n", (*cli).touch, "1")
	tc.fails("job 99 not found on "+a+", or reserved by another client", (*cli).touch, "99")

	out, err := tc.run("", (*cli).statsJob, "1")
	if err != nil || !strings.HasPrefix(out, "id: 1\ntube: default\nstate: ready\npri: 1024\n") {
		t.Fatalf("stats-job = %q, %v", out, err)
	}
	out, err = tc.run("", (*cli).statsJob, "--json", "1")
	var js map[string]string
	if err != nil || json.Unmarshal([]byte(out), &js) != nil || js["ttr"] != "60" || js["tube"] != "default" {
		t.Fatalf("stats-job --json = %q, %v", out, err)
	}
	out, err = tc.run("", (*cli).statsTube, "mail")
	if err != nil || !strings.HasPrefix(out, "name: mail\ncurrent-jobs-urgent: 1\ncurrent-jobs-ready: 1\n") {
		t.Fatalf("stats-tube = %q, %v", out, err)
	}
	tc.fails(`tube "nope" not found on `+a, (*cli).statsTube, "nope")
	tc.fails("job 77 not found on "+a, (*cli).statsJob, "77")
	out, err = tc.run("", (*cli).stats)
	if err != nil || !strings.HasPrefix(out, "current-jobs-urgent: 1\n") || !strings.Contains(out, "\nversion: ") {
		t.Fatalf("stats = %q, %v", out, err)
	}

	tc.ok("paused tube mail for 1m0s on "+a+"\n", (*cli).pauseTube, "mail", "1m")
	out, _ = tc.run("", (*cli).tubes)
	if !regexp.MustCompile(`\nmail +1 +0 +2 +0  (59s|1m0s)\n`).MatchString(out) {
		t.Fatalf("tubes after pause-tube:\n%s", out)
	}
	tc.fails(`tube "gone" not found on `+a, (*cli).pauseTube, "gone", "10")

	tc.ok("deleted job 1 on "+a+"\ndeleted job 2 on "+a+"\n", (*cli).delete, "1", "2")
	out, err = tc.run("", (*cli).delete, "3", "1", "4")
	if want := "deleted job 3 on " + a + "\ndeleted job 4 on " + a + "\n"; out != want || err == nil || err.Error() != "job 1 not found on "+a {
		t.Fatalf("delete with a missing id = %q, %v; want %q and job 1 not found", out, err, want)
	}
	tc.fails("no job in tube default on "+a+" within 0s", (*cli).reserve, "--timeout", "0")
}

func statsOf(t *testing.T, addr string, id uint64) client.Stats {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.StatsJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientCommandsSeveralServers(t *testing.T) {
	t.Parallel()
	b1, b2 := servertest.StartDurableBeanstalkd(t), servertest.StartDurableBeanstalkd(t)
	both := b1.Addr + "," + b2.Addr
	tc := newTestCLI(t, both)

	seen := map[string]int{}
	for range 4 {
		out, err := tc.run("", (*cli).put, "--json", "--tube", "spread", "job")
		var ref struct{ Addr string }
		if err != nil || json.Unmarshal([]byte(out), &ref) != nil {
			t.Fatalf("put = %q, %v", out, err)
		}
		seen[ref.Addr]++
	}
	if seen[b1.Addr]+seen[b2.Addr] != 4 {
		t.Fatalf("puts went to %v", seen)
	}
	out, err := tc.run("", (*cli).tubes, "--names")
	if want := fmt.Sprintf("== %s ==\ndefault\nspread\n\n== %s ==\ndefault\nspread\n", b1.Addr, b2.Addr); err != nil || (out != want && seen[b1.Addr] != 0 && seen[b2.Addr] != 0) {
		t.Fatalf("tubes = %q, %v; want %q", out, err, want)
	}
	for range 4 {
		out, err := tc.run("", (*cli).reserve, "--tube", "spread", "--timeout", "0", "--delete", "--json")
		var j jobJSON
		if err != nil || json.Unmarshal([]byte(out), &j) != nil || *j.Body != "job" {
			t.Fatalf("reserve = %q, %v", out, err)
		}
		seen[j.Addr]--
	}
	if seen[b1.Addr] != 0 || seen[b2.Addr] != 0 {
		t.Fatalf("reserved per server differs from puts: %v", seen)
	}
	tc.fails("no job in tube spread on "+both+" within 0s", (*cli).reserve, "--tube", "spread", "--timeout", "0")
	err = tc.fails("delete: job ids are per server; give one server with --addr (reserve and put print the server of each job)", (*cli).delete, "1")
	if !isUsage(err) {
		t.Errorf("delete with several servers: %v is not a usage error", err)
	}
	out, err = tc.run("", (*cli).kick, "--json")
	if want := fmt.Sprintf(`[{"addr":"%s","tube":"default","kicked":0},{"addr":"%s","tube":"default","kicked":0}]`+"\n", b1.Addr, b2.Addr); err != nil || out != want {
		t.Fatalf("kick --json = %q, %v; want %q", out, err, want)
	}

	// A dead server is skipped by put.
	b2.Kill()
	for range 3 {
		out, err := tc.run("", (*cli).put, "x")
		if err != nil || !strings.HasSuffix(out, " on "+b1.Addr+"\n") {
			t.Fatalf("put with %s dead = %q, %v", b2.Addr, out, err)
		}
	}
	b1.Kill()
	_, err = tc.run("", (*cli).put, "x")
	if err == nil || !errors.Is(err, client.ErrNoServers) {
		t.Fatalf("put with every server dead = %v; want ErrNoServers", err)
	}
}

func TestClientCommandLineErrors(t *testing.T) {
	t.Parallel()
	tc := newTestCLI(t, "127.0.0.1:1")
	for _, c := range []struct {
		cmd  func(*cli, []string) error
		args []string
		want string
	}{
		{(*cli).delete, nil, "missing arguments: reprieve delete [flags] ID... (see reprieve delete --help)"},
		{(*cli).buried, nil, "missing arguments: reprieve buried [flags] TUBE (see reprieve buried --help)"},
		{(*cli).flush, []string{"mail"}, "say which jobs of tube mail to delete: --state ready|delayed|reserved|buried|all, or --all"},
		{(*cli).flush, []string{"--all", "--state", "ready", "mail"}, "--all and --state ready contradict each other"},
		{(*cli).delete, []string{"x"}, `"x" is not a job id (a positive whole number)`},
		{(*cli).put, []string{"a", "b"}, `unexpected arguments ["b"] (see reprieve put --help)`},
		{(*cli).put, []string{"--tube", "-x", "a"}, `--tube: client: bad tube name: "-x" starts with a hyphen`},
		{(*cli).put, []string{"--delay", "soon", "a"}, `invalid value "soon" for flag -delay: "soon" is not a duration: write seconds (30) or a duration with units (1m30s) (see reprieve put --help)`},
		{(*cli).reserve, []string{"--delete", "--bury"}, "--delete and --bury exclude each other"},
		{(*cli).kick, []string{"many"}, `BOUND "many" is not a whole number`},
		{(*cli).pauseTube, []string{"t"}, "missing arguments: reprieve pause-tube [flags] TUBE DURATION (see reprieve pause-tube --help)"},
	} {
		_, err := tc.run("", c.cmd, c.args...)
		if err == nil || err.Error() != c.want || !isUsage(err) {
			t.Errorf("%v = %v; want the usage error %q", c.args, err, c.want)
		}
	}
	tc.fails("cannot connect to 127.0.0.1:1: connect: connection refused", (*cli).stats)
	tc.fails("cannot connect to 127.0.0.1:1: connect: connection refused", (*cli).reserve)
	tc.fails("cannot connect to 127.0.0.1:1: connect: connection refused", (*cli).put, "x")

	out, err := tc.run("", (*cli).put, "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(out, "Usage: reprieve put [flags] [BODY]\n\nPuts one job") || !strings.Contains(out, "-ttr duration") {
		t.Fatalf("put --help = %v, printed\n%s", err, out)
	}
	if strings.Count(out, "Usage:") != 1 {
		t.Fatalf("put --help printed its usage %d times", strings.Count(out, "Usage:"))
	}
}
