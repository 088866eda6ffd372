package client

import (
	"strings"
	"testing"
	"time"
)

func TestParseFailReplies(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		line string
		want FailResult
		ok   bool
	}{
		{"RETRYING 3 135 2026-11-25T10:00:00Z", FailResult{Action: FailRetry, Attempts: 3, Delay: 135 * time.Second, At: at}, true},
		{"BURIED 1", FailResult{Action: FailBuried, Attempts: 1}, true},
		{"DEAD_LETTERED 81 dead", FailResult{Action: FailDeadLetter, Attempts: 81, Tube: "dead"}, true},
		{"DELETED 5", FailResult{Action: FailDeleted, Attempts: 5}, true},
		{"BURIED", FailResult{}, false},
		{"RETRYING 3 135", FailResult{}, false},
		{"RETRYING 3 135 tomorrow", FailResult{}, false},
		{"NOT_FOUND", FailResult{}, false},
	}
	for _, tc := range cases {
		w := strings.Fields(tc.line)
		got, ok := parseFail(Reply{Line: tc.line, Code: w[0], Args: w[1:]})
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseFail(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFailResultString(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		r    FailResult
		want string
	}{
		{FailResult{Action: FailRetry, Attempts: 3, Delay: 135 * time.Second, At: at}, "attempt 3 failed; retry at 2026-11-25T10:00:00Z (in 2m15s)"},
		{FailResult{Action: FailBuried, Attempts: 1}, "gave up after 1 attempt; buried"},
		{FailResult{Action: FailDeadLetter, Attempts: 81, Tube: "dead"}, "gave up after 81 attempts; moved to dead-letter tube dead"},
		{FailResult{Action: FailDeleted, Attempts: 5}, "gave up after 5 attempts; deleted"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestParseJobList(t *testing.T) {
	body := "---\n- id: 5\n  state: buried\n  last-error: \"a: b\\nc\"\n- id: 7\n  state: delayed\n"
	jobs, err := ParseJobList([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0]["id"] != "5" || jobs[0]["last-error"] != "a: b\nc" || jobs[1]["state"] != "delayed" {
		t.Fatalf("jobs = %#v", jobs)
	}
	if jobs, err := ParseJobList([]byte("---\n")); err != nil || len(jobs) != 0 {
		t.Fatalf("empty list: %v, %v", jobs, err)
	}
	if _, err := ParseJobList([]byte("---\nid: 5\n")); err == nil {
		t.Fatalf("a dictionary parsed as a job list")
	}
}
