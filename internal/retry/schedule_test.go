package retry

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

var t0 = time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC) // a Friday evening

// fixed is a Source returning the same value every time.
type fixed float64

func (f fixed) Float64() float64 { return float64(f) }

// runToGiveUp fails a job every time its retry comes, on a fake clock, and
// returns the delays between consecutive attempts.
func runToGiveUp(t *testing.T, s Schedule, rnd Source) []time.Duration {
	t.Helper()
	c := clock.NewFake(t0)
	first := c.Now()
	var delays []time.Duration
	for n := 1; ; n++ {
		d, giveUp := s.Next(n, first, c.Now(), rnd)
		if giveUp {
			if d != 0 {
				t.Fatalf("give-up after failure %d came with delay %v, want 0", n, d)
			}
			return delays
		}
		delays = append(delays, d)
		c.Advance(d)
		if n > 100000 {
			t.Fatal("schedule never gave up")
		}
	}
}

func TestDefaultScheduleAttemptsIn72h(t *testing.T) {
	s := DefaultSchedule()
	if err := s.Validate(); err != nil {
		t.Fatalf("default schedule invalid: %v", err)
	}
	cases := []struct {
		name string
		rnd  Source
	}{
		{"no jitter", fixed(0.5)},
		{"all early", fixed(0)},
		{"all late", fixed(0.999999)},
		{"seeded random 1", rand.New(rand.NewPCG(1, 2))},
		{"seeded random 2", rand.New(rand.NewPCG(3, 4))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			delays := runToGiveUp(t, s, tc.rnd)
			if n := len(delays); n < 70 || n > 90 {
				t.Errorf("default schedule made %d retries in 72h, want 70–90", n)
			}
			var total time.Duration
			maxGap := s.Cap + time.Duration(s.Jitter*float64(s.Cap))
			for i, d := range delays {
				total += d
				if d > maxGap {
					t.Errorf("retry %d waits %v, more than cap plus jitter %v", i+1, d, maxGap)
				}
			}
			if total > 72*time.Hour {
				t.Errorf("last retry at %v after the first failure, past 72h", total)
			}
			if total < 71*time.Hour {
				t.Errorf("last retry at %v, gave up more than an hour early", total)
			}
		})
	}
}

func TestDefaultScheduleFirstRetryAt60s(t *testing.T) {
	s := DefaultSchedule()
	d, giveUp := s.Next(1, t0, t0, fixed(0.5))
	if giveUp || d != time.Minute {
		t.Fatalf("Next(1) = %v, %v; want 1m0s, false", d, giveUp)
	}
	lo, _ := s.Next(1, t0, t0, fixed(0))
	hi, _ := s.Next(1, t0, t0, fixed(0.999999999))
	if lo != 54*time.Second || hi != 66*time.Second {
		t.Fatalf("first retry jitter range [%v, %v], want [54s, 66s]", lo, hi)
	}
}

func TestDefaultSchedulePlan(t *testing.T) {
	s := DefaultSchedule()
	steps := s.Plan()
	if len(steps) != 80 {
		t.Fatalf("plan has %d retries, want 80", len(steps))
	}
	want := []time.Duration{
		time.Minute, 90 * time.Second, 135 * time.Second, 203 * time.Second,
	}
	for i, w := range want {
		if steps[i].Delay != w {
			t.Errorf("retry %d delay %v, want %v", i+1, steps[i].Delay, w)
		}
	}
	if steps[10].Delay >= time.Hour || steps[11].Delay != time.Hour {
		t.Errorf("cap reached at retry 12 expected: retry 11 %v, retry 12 %v", steps[10].Delay, steps[11].Delay)
	}
	last := steps[len(steps)-1]
	if last.At > 72*time.Hour || last.At+time.Hour <= 72*time.Hour {
		t.Errorf("last retry at %v; want within the last hour before 72h", last.At)
	}
	var b strings.Builder
	if err := s.WritePlan(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("default schedule (jitter ±%v%% not shown):\n%s", s.Jitter*100, b.String())
	if !strings.Contains(b.String(), "12–80") || !strings.Contains(b.String(), "after failure 81") {
		t.Errorf("plan table lacks the hourly range or the give-up line:\n%s", b.String())
	}
}

func TestNext(t *testing.T) {
	s := Schedule{Initial: 10 * time.Second, Factor: 2, Cap: time.Minute, MaxAge: 10 * time.Minute, MaxAttempts: 5}
	cases := []struct {
		name     string
		attempts int
		since    time.Duration // now - first failure
		delay    time.Duration
		giveUp   bool
	}{
		{"first failure", 1, 0, 10 * time.Second, false},
		{"second", 2, 10 * time.Second, 20 * time.Second, false},
		{"third", 3, 30 * time.Second, 40 * time.Second, false},
		{"capped", 4, 70 * time.Second, time.Minute, false},
		{"max attempts reached", 5, 130 * time.Second, 0, true},
		{"past max age by the next delay", 2, 9*time.Minute + 45*time.Second, 0, true},
		{"exactly at max age", 2, 9*time.Minute + 40*time.Second, 20 * time.Second, false},
		{"zero attempts taken as one", 0, 0, 10 * time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, g := s.Next(tc.attempts, t0, t0.Add(tc.since), nil)
			if d != tc.delay || g != tc.giveUp {
				t.Fatalf("Next(%d, +%v) = %v, %v; want %v, %v", tc.attempts, tc.since, d, g, tc.delay, tc.giveUp)
			}
		})
	}
}

func TestNextJitterBounds(t *testing.T) {
	s := Schedule{Initial: 100 * time.Second, Factor: 1, Cap: 100 * time.Second, Jitter: 0.25, MaxAttempts: 10}
	cases := []struct {
		r    float64
		want time.Duration
	}{{0, 75 * time.Second}, {0.5, 100 * time.Second}, {0.75, 113 * time.Second}}
	for _, tc := range cases {
		if d, _ := s.Next(1, t0, t0, fixed(tc.r)); d != tc.want {
			t.Errorf("jitter draw %v: delay %v, want %v", tc.r, d, tc.want)
		}
	}
}

func TestNextHugeAttemptsStaysAtCap(t *testing.T) {
	s := Schedule{Initial: time.Second, Factor: 100, Cap: time.Hour, MaxAttempts: 1 << 30}
	if d, g := s.Next(1<<20, t0, t0, nil); d != time.Hour || g {
		t.Fatalf("Next(2^20) = %v, %v; want 1h0m0s, false", d, g)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultSchedule()
	cases := []struct {
		name string
		edit func(*Schedule)
		want string
	}{
		{"initial too short", func(s *Schedule) { s.Initial = 500 * time.Millisecond },
			"retry: invalid schedule: initial: 500ms is shorter than 1s; write a delay of at least 1s, such as 1m"},
		{"factor below 1", func(s *Schedule) { s.Factor = 0.5 },
			"retry: invalid schedule: factor: 0.5 is below 1; use 1 for a fixed delay or more than 1 to grow it, such as 1.5"},
		{"factor too big", func(s *Schedule) { s.Factor = 1000 },
			"retry: invalid schedule: factor: 1000 is above 100; use a growth factor between 1 and 100, such as 1.5"},
		{"cap below initial", func(s *Schedule) { s.Cap = 30 * time.Second },
			"retry: invalid schedule: cap: 30s is shorter than initial (1m0s); make cap at least as long as initial"},
		{"jitter 1", func(s *Schedule) { s.Jitter = 1 },
			"retry: invalid schedule: jitter: 1 is outside [0, 1); write a fraction such as 0.1 for ±10%, or 0 for none"},
		{"negative max-age", func(s *Schedule) { s.MaxAge = -time.Hour },
			"retry: invalid schedule: max-age: -1h0m0s is negative; write a positive age such as 72h, or 0 for no age limit"},
		{"negative max-attempts", func(s *Schedule) { s.MaxAttempts = -1 },
			"retry: invalid schedule: max-attempts: -1 is negative; write a positive count such as 80, or 0 for no limit"},
		{"no limit", func(s *Schedule) { s.MaxAge = 0 },
			"retry: invalid schedule: max-age: neither max-age nor max-attempts is set, so the job would be retried forever; set max-age (such as 72h), max-attempts (such as 80), or both"},
		{"max-age below initial", func(s *Schedule) { s.MaxAge = 30 * time.Second },
			"retry: invalid schedule: max-age: 30s is shorter than initial (1m0s), so no retry would ever happen; make max-age longer than initial, or give the tube no retry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid")
			}
		})
	}
}

// TestPlanGiveUpNamesTheLimitThatComesFirst: with max-age and max-attempts
// both set, the give-up line names the one that ends the plan and says the
// other is not reached.
func TestPlanGiveUpNamesTheLimitThatComesFirst(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		want     string
	}{
		{500, "give up  after failure 6  the next retry would pass max-age 1h0m0s (max-attempts 500 is never reached)\n"},
		{4, "give up  after failure 4  max-attempts 4 reached (within max-age 1h0m0s)\n"},
	} {
		s := Schedule{Initial: time.Minute, Factor: 2, Cap: time.Hour, MaxAge: time.Hour, MaxAttempts: tt.attempts}
		var b strings.Builder
		if err := s.WritePlan(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(b.String(), tt.want) {
			t.Errorf("max-attempts %d: plan\n%s\nwant it to end with\n%s", tt.attempts, b.String(), tt.want)
		}
	}
}
