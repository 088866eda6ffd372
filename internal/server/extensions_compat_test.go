package server_test

import (
	"errors"
	"testing"
	"time"

	beanstalk "github.com/beanstalkd/go-beanstalk"
)

// TestOldClientsOnTubesWithoutPolicy runs a go-beanstalk workflow on a
// server that has policies (for other tubes and for every "email-*"),
// and checks that the default tube behaves exactly as in beanstalkd: a
// TTR expiry returns the job to ready, release keeps its delay, bury and
// kick revive, and stats-job's beanstalkd keys are as beanstalkd counts.
func TestOldClientsOnTubesWithoutPolicy(t *testing.T) {
	e := startEnv(t, `tubes:
  "email-*":
    retry: true
    give-up: delete
  calls:
    ready-expiry: 1m
`)
	conn, err := beanstalk.Dial("tcp", e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id, err := conn.Put([]byte("hello"), 10, 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rid, body, err := conn.Reserve(0)
	if err != nil || rid != id || string(body) != "hello" {
		t.Fatalf("reserve: %d %q %v", rid, body, err)
	}
	e.clock.Advance(5 * time.Second) // TTR expires: back to ready, no failure
	st, err := conn.StatsJob(id)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"state": "ready", "timeouts": "1", "reserves": "1", "failures": "0"} {
		if st[k] != v {
			t.Errorf("after TTR expiry %s = %q, want %q", k, st[k], v)
		}
	}
	e.clock.Advance(time.Hour) // no ready-expiry either
	if rid, _, err = conn.Reserve(0); err != nil || rid != id {
		t.Fatalf("second reserve: %d %v", rid, err)
	}
	if err := conn.Release(id, 20, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ = conn.StatsJob(id); st["state"] != "delayed" || st["delay"] != "30" || st["pri"] != "20" {
		t.Fatalf("after release: %v", st)
	}
	e.clock.Advance(30 * time.Second)
	if rid, _, err = conn.Reserve(0); err != nil || rid != id {
		t.Fatalf("third reserve: %d %v", rid, err)
	}
	if err := conn.Bury(id, 5); err != nil {
		t.Fatal(err)
	}
	tube := beanstalk.NewTube(conn, "default")
	if n, err := tube.Kick(10); err != nil || n != 1 {
		t.Fatalf("kick: %d %v", n, err)
	}
	if rid, _, err = conn.Reserve(0); err != nil || rid != id {
		t.Fatalf("fourth reserve: %d %v", rid, err)
	}
	if err := conn.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.StatsJob(id); !errors.Is(err, beanstalk.ErrNotFound) {
		t.Fatalf("stats-job after delete: %v", err)
	}
	if st, _ := conn.Stats(); st["total-failures"] != "0" || st["total-gave-up"] != "0" || st["total-expired"] != "0" || st["job-timeouts"] != "1" {
		t.Fatalf("server stats %v", st)
	}
}
