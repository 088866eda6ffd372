package policy

import "testing"

func TestPolicyString(t *testing.T) {
	s, err := Parse("r.yaml", []byte(`default:
  retry: true
tubes:
  a:
    retry: {initial: 30s, factor: 2, cap: 2h, jitter: 0, max-age: 0, max-attempts: 5}
    give-up: {action: dead-letter, tube: dead}
    retention: {max-age: 30d, max-count: 1000, max-bytes: 1MiB}
    ready-expiry: 15m
    kick-resets-attempts: false
  b:
    give-up: delete
  c:
    retry: {initial: 1m, factor: 2, cap: 1h, jitter: 0, max-age: 1h, max-attempts: 500}
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"a":     "retry 30s ×2 up to 2h at most 5 attempts, then dead-letter to dead; retention 30d, 1000 jobs, 1MiB; ready-expiry 15m; kick keeps attempts",
		"b":     "no retry; a failure gives up: delete; kick resets attempts",
		"c":     "retry 1m ×2 up to 1h for 1h, at most 500 attempts (never reached: max-age comes first), then bury; kick resets attempts",
		"other": "retry 1m ×1.5 up to 1h ±10% for 3d, then bury; kick resets attempts",
	}
	for tube, want := range cases {
		if got := s.Lookup(tube).String(); got != want {
			t.Errorf("%s: %q\nwant %q", tube, got, want)
		}
	}
	var none *Policy
	if none.String() != "none (beanstalkd behaviour)" {
		t.Errorf("nil policy: %q", none.String())
	}
}
