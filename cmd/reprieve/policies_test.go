package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPoliciesCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`default:
  retry: true
tubes:
  "email-*":
    give-up: delete
  gps:
    ready-expiry: 15m
`), 0o644)
	var out bytes.Buffer
	if err := runPolicies(&out, []string{good}); err != nil {
		t.Fatal(err)
	}
	want := good + `: valid, 2 entries, a default
gps: no retry; a failure gives up: bury; ready-expiry 15m; kick resets attempts
email-*: no retry; a failure gives up: delete; kick resets attempts
default: retry 1m ×1.5 up to 1h ±10% for 3d, then bury; kick resets attempts
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := runPolicies(&out, []string{"--schedule", good, "email-x", "gps", "other"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, w := range []string{"tube email-x (pattern email-*): no retry", "tube gps (its own entry)", "tube other (default): retry 1m",
		"    12–80    1h0m0s each", "    give up  after failure 81"} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("tubes:\n  a:\n    retry: {factor: 0}\n"), 0o644)
	err := runPolicies(&out, []string{bad})
	if err == nil || err.Error() != bad+":3: tubes.a.retry.factor: 0 is below 1; use 1 for a fixed delay or more than 1 to grow it, such as 1.5" {
		t.Fatalf("bad file: %v", err)
	}
}

// TestPoliciesFlowControlAndSchedules: limits in the policy line, each
// schedule with its next run (an @every 1h schedule: an hour from now).
func TestPoliciesFlowControlAndSchedules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte(`tubes:
  mail:
    concurrency: 5
    rate: {limit: 100, per: minute, burst: 20}
    unique: {key: json:id, buried: true, window: 1h}
schedules:
  beat:
    cron: "@every 1h"
    tube: beats
    delay: 30s
    catch-up: once
`), 0o644)
	var out bytes.Buffer
	before := time.Now()
	if err := runPolicies(&out, []string{path}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || lines[1] != "mail: no retry; a failure gives up: bury; kick resets attempts; at most 5 reserved at once; rate 100 per 1m, burst 20; unique by json:id, buried jobs included within 1h" {
		t.Fatalf("got\n%s", out.String())
	}
	const prefix = `schedule beat: "@every 1h" UTC into beats (priority 1024, delay 30s, ttr 1m), catch-up once; next run `
	next, err := time.Parse(time.RFC3339, strings.TrimPrefix(lines[2], prefix))
	if !strings.HasPrefix(lines[2], prefix) || err != nil || next.Before(before.Add(time.Hour-time.Second)) || next.After(time.Now().Add(time.Hour)) {
		t.Fatalf("schedule line %q (%v)", lines[2], err)
	}
}
