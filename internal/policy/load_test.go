package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/retry"
)

const goodConfig = `# reprieve.yaml
default:
  retry: true

tubes:
  emails:
    retry:
      initial: 30s
      factor: 2
      cap: 2h
      jitter: 0
      max-age: 3d
      max-attempts: 50
    give-up:
      action: dead-letter
      tube: dead
    retention:
      max-age: 1w
      max-count: 10_000
      max-bytes: 64MiB
    kick-resets-attempts: false
  "email-*":
    retry: true
    give-up: delete
  "email-bulk-*":
    give-up: bury
  gps:
    ready-expiry: 15m
    give-up: delete
  dead:
    retention: {max-age: 30d, max-count: 1000}
  plain:
    retry: false
`

func TestParseGood(t *testing.T) {
	s, err := Parse("reprieve.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	emails := s.Lookup("emails")
	want := retry.Schedule{Initial: 30 * time.Second, Factor: 2, Cap: 2 * time.Hour, MaxAge: 72 * time.Hour, MaxAttempts: 50}
	if emails == nil || emails.Retry == nil || *emails.Retry != want {
		t.Fatalf("emails retry = %+v, want %+v", emails.Retry, want)
	}
	if emails.GiveUp != (GiveUp{Action: DeadLetter, Tube: "dead"}) {
		t.Errorf("emails give-up = %+v", emails.GiveUp)
	}
	if emails.Retention != (Retention{MaxAge: 7 * 24 * time.Hour, MaxCount: 10000, MaxBytes: 64 << 20}) {
		t.Errorf("emails retention = %+v", emails.Retention)
	}
	if emails.KickResetsAttempts {
		t.Errorf("emails kick-resets-attempts = true, want false")
	}
	gps := s.Lookup("gps")
	if gps.ReadyExpiry != 15*time.Minute || gps.GiveUp.Action != Delete || gps.Retry != nil || !gps.KickResetsAttempts {
		t.Errorf("gps = %+v", gps)
	}
	if p := s.Lookup("plain"); p == nil || p.Retry != nil || p.GiveUp.Action != Bury {
		t.Errorf("plain = %+v, want a policy without retry that buries", p)
	}
	def := s.Lookup("anything-else")
	if def == nil || def.Retry == nil || *def.Retry != retry.DefaultSchedule() {
		t.Errorf("default policy = %+v, want seed 001's schedule", def)
	}
	if s.Len() != 6 || s.Source() != "reprieve.yaml" {
		t.Errorf("Len %d Source %q", s.Len(), s.Source())
	}
}

func TestMatchRule(t *testing.T) {
	s, err := Parse("reprieve.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ tube, entry string }{
		{"emails", "emails"},             // exact beats email-*? no: "emails" does not match email-*; exact
		{"email-welcome", "email-*"},     // pattern
		{"email-bulk-1", "email-bulk-*"}, // more literal characters wins
		{"email-bulk-", "email-bulk-*"},  // * matches nothing too
		{"email-", "email-*"},            // idem
		{"gps", "gps"},                   // exact
		{"gps2", "default"},              // default
		{"dead", "dead"},                 // exact
	}
	for _, tc := range cases {
		if _, got := s.Match(tc.tube); got != tc.entry {
			t.Errorf("Match(%q) = %q, want %q", tc.tube, got, tc.entry)
		}
	}
	noDefault, err := Parse("x.yaml", []byte("tubes:\n  a: {retry: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, e := noDefault.Match("b"); p != nil || e != "" {
		t.Errorf("tube with no policy and no default got %+v via %q, want nil", p, e)
	}
}

func TestExactBeatsPattern(t *testing.T) {
	s, err := Parse("x.yaml", []byte("tubes:\n  'a*':\n    give-up: delete\n  ab:\n    give-up: bury\n  '*b':\n    give-up: delete\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, e := s.Match("ab"); e != "ab" {
		t.Fatalf("Match(ab) via %q, want the exact entry", e)
	}
	// a* and *b tie (one literal each) for "axb": the first in the file wins.
	if _, e := s.Match("axb"); e != "a*" {
		t.Fatalf("Match(axb) via %q, want a* (written first)", e)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"email-*", "email-x", true},
		{"email-*", "email-", true},
		{"email-*", "emai", false},
		{"*", "", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*/jobs", "eu/west/jobs", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a**", "a", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tc := range cases {
		if got := Glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"unknown top key", "tube:\n  a: {}\n",
			`r.yaml:1: tube: unknown key "tube"; did you mean "tubes"? the keys here are default, tubes, schedules`},
		{"unknown policy key", "tubes:\n  a:\n    retires: true\n",
			`r.yaml:3: tubes.a.retires: unknown key "retires"; did you mean "retry"? the keys here are retry, give-up, retention, ready-expiry, kick-resets-attempts, concurrency, rate, unique`},
		{"unknown retry key", "tubes:\n  a:\n    retry:\n      delay: 1m\n",
			`r.yaml:4: tubes.a.retry.delay: unknown key "delay"; the keys here are initial, factor, cap, jitter, max-age, max-attempts`},
		{"bad duration", "tubes:\n  a:\n    retry:\n      initial: 1 minute\n",
			`r.yaml:4: tubes.a.retry.initial: "1 minute" has an unknown unit " minute"; write a duration such as 1m (units ms, s, m, h, d, w), or 0 for none`},
		{"duration with a spelled unit", "tubes:\n  a:\n    ready-expiry: 15 min\n",
			`r.yaml:3: tubes.a.ready-expiry: "15 min" has an unknown unit " min"; write a duration such as 15m (units ms, s, m, h, d, w), or 0 for none`},
		{"negative duration", "tubes:\n  a:\n    ready-expiry: -5m\n",
			`r.yaml:3: tubes.a.ready-expiry: -5m is negative; write a duration such as 15m (units ms, s, m, h, d, w), or 0 for none`},
		{"negative count", "tubes:\n  a:\n    retention:\n      max-count: -1\n",
			`r.yaml:4: tubes.a.retention.max-count: -1 is negative; write a whole number such as 10000, or 0 for no limit`},
		{"negative attempts", "tubes:\n  a:\n    retry:\n      max-attempts: -3\n",
			`r.yaml:4: tubes.a.retry.max-attempts: -3 is negative; write a whole number such as 80, or 0 for no limit`},
		{"negative bytes", "tubes:\n  a:\n    retention:\n      max-bytes: -1MB\n",
			`r.yaml:4: tubes.a.retention.max-bytes: -1MB is negative; write a size such as 64MB, 512KiB or 1000000 (bytes), or 0 for no limit`},
		{"bad size unit", "tubes:\n  a:\n    retention:\n      max-bytes: 5 parsecs\n",
			`r.yaml:4: tubes.a.retention.max-bytes: "5 parsecs" has an unknown unit "parsecs"; write a size such as 64MB, 512KiB or 1000000 (bytes), or 0 for no limit`},
		{"factor below one", "tubes:\n  a:\n    retry:\n      factor: 0.5\n",
			`r.yaml:4: tubes.a.retry.factor: 0.5 is below 1; use 1 for a fixed delay or more than 1 to grow it, such as 1.5`},
		{"cap below initial, cap defaulted", "tubes:\n  a:\n    retry:\n      initial: 2h\n",
			`r.yaml:3: tubes.a.retry.cap: 1h0m0s is shorter than initial (2h0m0s); make cap at least as long as initial`},
		{"retry forever", "tubes:\n  a:\n    retry:\n      max-age: 0\n",
			`r.yaml:4: tubes.a.retry.max-age: neither max-age nor max-attempts is set, so the job would be retried forever; set max-age (such as 72h), max-attempts (such as 80), or both`},
		{"retry empty", "tubes:\n  a:\n    retry:\n",
			`r.yaml:3: tubes.a.retry: has no value; write retry: true for the default schedule, or keys beneath it (initial, factor, cap, jitter, max-age, max-attempts)`},
		{"retry a number", "tubes:\n  a:\n    retry: 5\n",
			`r.yaml:3: tubes.a.retry: is a number, not a mapping of keys; write retry: true for the default schedule, or keys beneath it (initial, factor, cap, jitter, max-age, max-attempts)`},
		{"dead-letter without tube", "tubes:\n  a:\n    give-up: dead-letter\n",
			`r.yaml:3: tubes.a.give-up: dead-letter needs a tube to move jobs to; add tube: NAME beside action: dead-letter`},
		{"dead-letter mapping without tube", "tubes:\n  a:\n    give-up:\n      action: dead-letter\n",
			`r.yaml:4: tubes.a.give-up: dead-letter needs a tube to move jobs to; add tube: NAME beside action: dead-letter`},
		{"unknown action", "tubes:\n  a:\n    give-up: drop\n",
			`r.yaml:3: tubes.a.give-up: unknown action "drop"; write bury, delete, or dead-letter with a tube: give-up: {action: dead-letter, tube: NAME}`},
		{"tube with bury", "tubes:\n  a:\n    give-up:\n      action: bury\n      tube: x\n",
			`r.yaml:5: tubes.a.give-up.tube: a tube is only used with action dead-letter, not bury; remove tube:, or set action: dead-letter`},
		{"dead-letter tube is a pattern", "tubes:\n  a:\n    give-up: {action: dead-letter, tube: 'dead-*'}\n",
			`r.yaml:3: tubes.a.give-up.tube: the tube name "dead-*" holds '*', which tube names cannot; use letters, digits and - + / ; . $ _ ( ), not starting with -`},
		{"self cycle", "tubes:\n  a:\n    give-up: {action: dead-letter, tube: a}\n",
			`r.yaml:3: tubes.a.give-up.tube: dead-letter tubes form a cycle (a → a); give "a" an entry of its own with give-up bury or delete`},
		{"two-tube cycle", "tubes:\n  a:\n    give-up: {action: dead-letter, tube: b}\n  b:\n    give-up: {action: dead-letter, tube: a}\n",
			"r.yaml:3: tubes.a.give-up.tube: dead-letter tubes form a cycle (a → b → a); give \"b\" an entry of its own with give-up bury or delete\n" +
				`r.yaml:5: tubes.b.give-up.tube: dead-letter tubes form a cycle (b → a → b); give "a" an entry of its own with give-up bury or delete`},
		{"pattern matches its own dead-letter tube", "tubes:\n  'email-*':\n    give-up: {action: dead-letter, tube: email-dead}\n",
			`r.yaml:3: tubes.email-*.give-up.tube: dead-letter tubes form a cycle (email-dead → email-dead); give "email-dead" an entry of its own with give-up bury or delete`},
		{"default dead-letters into itself", "default:\n  give-up: {action: dead-letter, tube: dead}\n",
			`r.yaml:2: default.give-up.tube: dead-letter tubes form a cycle (dead → dead); give "dead" an entry of its own with give-up bury or delete`},
		{"bad pattern character", "tubes:\n  'email[0-9]':\n    retry: true\n",
			`r.yaml:2: tubes.email[0-9]: the tube name "email[0-9]" holds '[', which tube names cannot; use letters, digits and - + / ; . $ _ ( ), not starting with -`},
		{"pattern with bad character", "tubes:\n  'email-*!':\n    retry: true\n",
			`r.yaml:2: tubes.email-*!: the pattern "email-*!" holds '!', which is neither a wildcard (* ?) nor allowed in tube names; a pattern is a tube name with * (any run of characters) or ? (one character), such as email-*`},
		{"pattern starting with hyphen", "tubes:\n  '-*':\n    retry: true\n",
			`r.yaml:2: tubes.-*: the pattern "-*" starts with -, so no tube can match it; a pattern is a tube name with * (any run of characters) or ? (one character), such as email-*`},
		{"bool not bool", "tubes:\n  a:\n    kick-resets-attempts: yes please\n",
			`r.yaml:3: tubes.a.kick-resets-attempts: is a string, not true or false; write true or false`},
		{"policy not a mapping", "tubes:\n  a: 5\n",
			`r.yaml:2: tubes.a: is a number, not a mapping of keys; give the policy as keys beneath, such as retry: true`},
		{"tubes a list", "tubes:\n  - a\n",
			`r.yaml:2: tubes: is a list, not a mapping of keys; list each tube name or pattern under tubes: with its policy beneath`},
		{"duplicate key", "tubes:\n  a:\n    retry: true\n  a:\n    retry: false\n",
			`r.yaml:4: YAML syntax: mapping key "a" already defined at [2:3]; correct the YAML (indent with spaces; one key per line)`},
		{"syntax", "tubes:\n  a: [\n",
			`r.yaml:2: YAML syntax: sequence end token ']' not found; correct the YAML (indent with spaces; one key per line)`},
		{"several problems, in line order", "tubes:\n  a:\n    retry:\n      factor: 0\n  b:\n    ready-expiry: soon\n",
			"r.yaml:4: tubes.a.retry.factor: 0 is below 1; use 1 for a fixed delay or more than 1 to grow it, such as 1.5\n" +
				`r.yaml:6: tubes.b.ready-expiry: "soon" is not a duration; write a duration such as 15m (units ms, s, m, h, d, w), or 0 for none`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("r.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", s)
			}
			if s != nil {
				t.Errorf("Parse returned a set with its error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error:\n%s\nwant:\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
		})
	}
}

func TestParseEmptyAndAnchors(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "tubes:\n"} {
		s, err := Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if s.Lookup("any") != nil {
			t.Errorf("Parse(%q): a tube got a policy from an empty file", src)
		}
	}
	src := `x-base: &base
  retry: {max-attempts: 5, max-age: 0}
  give-up: delete
tubes:
  a:
    <<: *base
  b:
    <<: *base
    give-up: bury
`
	s, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Lookup("a"), s.Lookup("b")
	if a.Retry == nil || a.Retry.MaxAttempts != 5 || a.GiveUp.Action != Delete {
		t.Errorf("a = %+v", a)
	}
	if b.Retry == nil || b.GiveUp.Action != Bury {
		t.Errorf("b = %+v, want its own give-up to beat the merged one", b)
	}
}

func TestReloadKeepsOldSetOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reprieve.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tubes:\n  a:\n    give-up: delete\n")
	old, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	write("tubes:\n  a:\n    give-up: explode\n")
	got, err := Reload(old, path)
	if got != old {
		t.Fatalf("failed reload did not return the old set")
	}
	want := path + `:3: tubes.a.give-up: unknown action "explode"; write bury, delete, or dead-letter with a tube: give-up: {action: dead-letter, tube: NAME}`
	if err == nil || err.Error() != want {
		t.Fatalf("reload error %v\nwant %s", err, want)
	}
	write("tubes:\n  a:\n    give-up: bury\n")
	got, err = Reload(old, path)
	if err != nil || got == old || got.Lookup("a").GiveUp.Action != Bury {
		t.Fatalf("good reload: %v, %+v", err, got.Lookup("a"))
	}
	os.Remove(path)
	if got2, err := Reload(got, path); got2 != got || err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("reload of a missing file: %v", err)
	}
}

// TestParseSpellings shows the config dialect's sizes and durations in a
// policy file: every size unit is a power of 1024, a plain number is
// seconds.
func TestParseSpellings(t *testing.T) {
	for _, tc := range []struct {
		size, expiry string
		bytes        int64
		d            time.Duration
	}{
		{"64m", "90", 64 << 20, 90 * time.Second},
		{"64MB", "1m30s", 64 << 20, 90 * time.Second},
		{"64MiB", "0.5", 64 << 20, 500 * time.Millisecond},
		{"1000", "2d", 1000, 48 * time.Hour},
	} {
		src := "tubes:\n  a:\n    retention: {max-bytes: " + tc.size + "}\n    ready-expiry: " + tc.expiry + "\n"
		s, err := Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		p := s.Lookup("a")
		if p.Retention.MaxBytes != tc.bytes || p.ReadyExpiry != tc.d {
			t.Errorf("%q, %q: max-bytes %d, ready-expiry %v; want %d, %v", tc.size, tc.expiry, p.Retention.MaxBytes, p.ReadyExpiry, tc.bytes, tc.d)
		}
	}
}
