package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/servertest"
)

func startPolicyServer(t *testing.T, config string) (*servertest.Server, *clock.Fake) {
	t.Helper()
	set, err := policy.Parse("test.yaml", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC))
	return servertest.Start(t, &servertest.Options{Broker: broker.Config{Clock: fc, Policies: set}}), fc
}

func TestFailBuriedJobsFlushCommands(t *testing.T) {
	srv, fc := startPolicyServer(t, `tubes:
  mail:
    retry: {initial: 1m, jitter: 0, max-attempts: 2, max-age: 0}
    give-up: {action: dead-letter, tube: dead}
`)
	a := srv.Addr
	tc := newTestCLI(t, a)
	ctx := context.Background()
	conn, err := client.Dial(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, body := range []string{"one", "two", "three"} {
		if _, err := conn.PutIn(ctx, "mail", []byte(body), 0, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	tc.ok("job 1 on "+a+": attempt 1 failed; retry at 2026-11-20T18:01:00Z (in 1m0s)\n", (*cli).fail, "1", "SMTP", "timeout")
	fc.Advance(time.Minute)
	got, err := tc.run("SMTP 554\nrelay refused\n", (*cli).fail, "--json", "1")
	if err != nil {
		t.Fatal(err)
	}
	var fj map[string]any
	if err := json.Unmarshal([]byte(got), &fj); err != nil || fj["action"] != "dead-letter" || fj["tube"] != "dead" || fj["attempts"] != float64(2) {
		t.Fatalf("fail --json = %q (%v)", got, err)
	}
	tc.ok("job 2 on "+a+": attempt 1 failed; retry at 2026-11-20T18:02:00Z (in 1m0s)\n", (*cli).fail, "2", "bad address")
	tc.fails("job 99 not found on "+a+", or reserved by another client", (*cli).fail, "99", "x")
	// fail does not reserve the job: its reserves count does not move.
	js, err := conn.StatsJob(ctx, 2)
	if err != nil || js["reserves"] != "0" || js["failures"] != "1" {
		t.Fatalf("stats-job 2 after fail from the command line: %v %v, want reserves 0, failures 1", js, err)
	}
	// A job a worker holds is that worker's to fail.
	if _, err := conn.Watch(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ReserveJob(ctx, 3); err != nil {
		t.Fatal(err)
	}
	tc.fails("job 3 not found on "+a+", or reserved by another client", (*cli).fail, "3", "x")
	if err := conn.Release(ctx, 3, 0, 0); err != nil {
		t.Fatal(err)
	}

	tc.ok("ID  PRI  SIZE  FAILURES  GAVE UP           FROM  LAST ERROR\n"+
		"1   0    3     2         dead-letter dead  mail  SMTP 554 …\n", (*cli).buried, "dead")
	tc.ok("no buried jobs in tube mail on "+a+"\n", (*cli).buried, "mail")
	tc.ok("ID  STATE    PRI  AGE   TIME-LEFT  SIZE  FAILURES  LAST ERROR\n"+
		"2   delayed  0    1m0s  1m0s       3     1         bad address\n"+
		"3   ready    0    1m0s  -          5     0         \n", (*cli).jobs, "mail")
	tc.ok("ID  STATE  PRI  AGE   TIME-LEFT  SIZE  FAILURES  LAST ERROR\n"+
		"3   ready  0    1m0s  -          5     0         \n", (*cli).jobs, "--state", "ready", "mail")
	tc.ok("ID  STATE    PRI  AGE   TIME-LEFT  SIZE  FAILURES  LAST ERROR\n"+
		"2   delayed  0    1m0s  1m0s       3     1         bad address\n", (*cli).jobs, "--limit", "1", "mail")
	got, err = tc.run("", (*cli).buried, "--json", "dead")
	if err != nil || !strings.Contains(got, `"last-error":"SMTP 554\nrelay refused"`) || !strings.Contains(got, `"addr":"`+a+`"`) {
		t.Fatalf("buried --json = %q, %v", got, err)
	}
	tc.fails(`tube "nosuch" not found on `+a, (*cli).buried, "nosuch")
	if _, err := tc.run("", (*cli).jobs, "--state", "dead", "mail"); err == nil || !isUsage(err) {
		t.Fatalf("jobs --state dead: %v, want a usage error", err)
	}

	tc.ok("flushed 1 job from tube mail on "+a+"\n", (*cli).flush, "--state", "ready", "mail")
	tc.ok("flushed 1 job from tube mail on "+a+"\n", (*cli).flush, "--all", "mail")
	tc.ok(`{"addr":"`+a+`","tube":"dead","flushed":1}`+"\n", (*cli).flush, "--json", "--state", "all", "dead")
}

func TestKickByErrorCommand(t *testing.T) {
	srv, _ := startPolicyServer(t, "tubes:\n  mail:\n    give-up: bury\n")
	a := srv.Addr
	tc := newTestCLI(t, a)
	ctx := context.Background()
	conn, err := client.Dial(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Watch(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"SMTP timeout", "bad address", "SMTP refused"} {
		id, err := conn.PutIn(ctx, "mail", []byte("m"), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ReserveJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Fail(ctx, id, text); err != nil {
			t.Fatal(err)
		}
	}
	tc.ok("kicked 2 jobs in tube mail on "+a+"\n", (*cli).kick, "--tube", "mail", "--error", "SMTP")
	tc.ok("kicked 0 jobs in tube mail on "+a+"\n", (*cli).kick, "--tube", "mail", "--error", "SMTP")
	tc.ok(`{"addr":"`+a+`","tube":"mail","kicked":1}`+"\n", (*cli).kick, "--tube", "mail", "--error", "address", "--json", "5")
	tc.fails(`tube "nosuch" not found on `+a, (*cli).kick, "--tube", "nosuch", "--error", "x")
}
