package policy

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlowControl(t *testing.T) {
	src := `tubes:
  mail:
    concurrency: 5
    rate: {limit: 100, per: minute, burst: 20}
    unique: {key: json:id, buried: true, window: 1h}
  plain:
    rate: {limit: 3, per: 10s}
    unique: true
schedules:
  nightly:
    cron: "0 3 * * *"
    timezone: Europe/Paris
    tube: reports
    body: run
    priority: 10
    delay: 5s
    ttr: 2m
    catch-up: once
  often:
    cron: "@every 10m"
    tube: ticks
`
	s, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	mail := s.Lookup("mail")
	if mail.Concurrency != 5 || *mail.Rate != (Rate{Limit: 100, Per: time.Minute, Burst: 20}) ||
		*mail.Unique != (Unique{Key: UniqueKey{Field: "id"}, Buried: true, Window: time.Hour}) {
		t.Errorf("mail: %+v rate %+v unique %+v", mail, mail.Rate, mail.Unique)
	}
	if mail.Rate.Interval() != 600*time.Millisecond {
		t.Errorf("interval %v, want 600ms", mail.Rate.Interval())
	}
	plain := s.Lookup("plain")
	if plain.Concurrency != 0 || *plain.Rate != (Rate{Limit: 3, Per: 10 * time.Second, Burst: 1}) || *plain.Unique != (Unique{}) || plain.Unique.Key.String() != "body" {
		t.Errorf("plain: %+v rate %+v unique %+v", plain, plain.Rate, plain.Unique)
	}
	sc := s.Schedules()
	if len(sc) != 2 || sc[0].Name != "nightly" || sc[1].Name != "often" {
		t.Fatalf("schedules: %+v", sc)
	}
	n := sc[0]
	if n.Cron != "0 3 * * *" || n.Location.String() != "Europe/Paris" || n.Tube != "reports" || string(n.Body) != "run" ||
		n.Priority != 10 || n.Delay != 5*time.Second || n.TTR != 2*time.Minute || n.CatchUp != Once || n.Line != 10 {
		t.Errorf("nightly: %+v", n)
	}
	// 03:00 in Paris is 02:00 UTC in winter.
	from := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	if got, want := n.Next(from), time.Date(2026, 1, 11, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("nightly next after %v = %v, want %v", from, got, want)
	}
	o := sc[1]
	if o.TTR != time.Minute || o.Priority != 1024 || o.CatchUp != Skip || o.Location != time.UTC {
		t.Errorf("often defaults: %+v", o)
	}
	if got := o.Next(from); !got.Equal(from.Add(10 * time.Minute)) {
		t.Errorf("often next = %v", got)
	}
}

func TestParseFlowControlInvalid(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"negative concurrency", "tubes:\n  a:\n    concurrency: -1\n",
			`r.yaml:3: tubes.a.concurrency: -1 is negative; write a whole number such as 5, or 0 for no limit`},
		{"rate without limit", "tubes:\n  a:\n    rate: {per: minute}\n",
			`r.yaml:3: tubes.a.rate: has no limit; add limit: N, the reserves allowed per period`},
		{"rate zero", "tubes:\n  a:\n    rate:\n      limit: 0\n",
			`r.yaml:4: tubes.a.rate.limit: 0 would never let a job out; write a limit of at least 1, or remove rate:`},
		{"rate bad per", "tubes:\n  a:\n    rate: {limit: 1, per: fortnight}\n",
			`r.yaml:3: tubes.a.rate.per: "fortnight" is not a duration; write a duration such as 10s (units ms, s, m, h, d, w), or 0 for none`},
		{"rate unknown key", "tubes:\n  a:\n    rate: {limit: 1, brust: 3}\n",
			`r.yaml:3: tubes.a.rate.brust: unknown key "brust"; did you mean "burst"? the keys here are limit, per, burst`},
		{"unique bad key", "tubes:\n  a:\n    unique: {key: header}\n",
			`r.yaml:3: tubes.a.unique.key: unknown key "header"; write body (the whole body) or json:FIELD (a top-level field of a JSON object body)`},
		{"unique empty", "tubes:\n  a:\n    unique:\n",
			`r.yaml:3: tubes.a.unique: has no value; write unique: true (the body is the key), or keys beneath it (key, buried, window)`},
		{"bad cron", "schedules:\n  s:\n    cron: \"61 * * * *\"\n    tube: t\n",
			`r.yaml:3: schedules.s.cron: "61 * * * *": end of range (61) above maximum (59): 61; write five fields (minute hour day month weekday) such as "0 3 * * *", or @every 10m, @hourly, @daily`},
		{"bad zone", "schedules:\n  s:\n    cron: \"@hourly\"\n    timezone: Mars/Olympus\n    tube: t\n",
			`r.yaml:4: schedules.s.timezone: unknown time zone "Mars/Olympus"; write an IANA time zone such as Europe/Paris, or UTC`},
		{"no tube", "schedules:\n  s:\n    cron: \"@hourly\"\n",
			`r.yaml:2: schedules.s: has no tube; add tube: NAME, the tube the job is put into`},
		{"no cron", "schedules:\n  s:\n    tube: t\n",
			`r.yaml:2: schedules.s: has no cron; add cron: "0 3 * * *" (five fields) or cron: "@every 10m"`},
		{"bad catch-up", "schedules:\n  s:\n    cron: \"@hourly\"\n    tube: t\n    catch-up: all\n",
			`r.yaml:5: schedules.s.catch-up: unknown catch-up "all"; write skip (missed ticks are dropped) or once (one job for all the missed ticks)`},
		{"priority too big", "schedules:\n  s:\n    cron: \"@hourly\"\n    tube: t\n    priority: 4294967296\n",
			`r.yaml:5: schedules.s.priority: 4294967296 is above 4294967295; write a priority from 0 (most urgent) to 4294967295`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("r.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", s)
			}
			if got := strings.TrimSpace(err.Error()); got != tc.want {
				t.Fatalf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
