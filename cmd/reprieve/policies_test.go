package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
