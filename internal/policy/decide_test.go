package policy

import (
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/retry"
)

// fixed is a retry.Source that always draws r.
type fixed float64

func (f fixed) Float64() float64 { return float64(f) }

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sched := &retry.Schedule{Initial: 10 * time.Second, Factor: 2, Cap: time.Minute, Jitter: 0.5, MaxAge: 10 * time.Minute, MaxAttempts: 4}
	dead := &Policy{Retry: sched, GiveUp: GiveUp{Action: DeadLetter, Tube: "dead"}}
	cases := []struct {
		name     string
		p        *Policy
		tube     string
		attempts uint32
		age      time.Duration // now - since
		rnd      retry.Source
		want     Decision
	}{
		{"no policy buries", nil, "work", 1, 0, nil, Decision{Action: Bury}},
		{"no retry gives up at once", &Policy{GiveUp: GiveUp{Action: Delete}}, "work", 1, 0, nil, Decision{Action: Delete}},
		{"first retry, no jitter drawn", dead, "work", 1, 0, nil, Decision{Retry: true, Delay: 10 * time.Second}},
		{"first retry, lowest jitter", dead, "work", 1, 0, fixed(0), Decision{Retry: true, Delay: 5 * time.Second}},
		{"first retry, highest jitter", dead, "work", 1, 0, fixed(0.999), Decision{Retry: true, Delay: 15 * time.Second}},
		{"third retry grows", dead, "work", 3, time.Minute, nil, Decision{Retry: true, Delay: 40 * time.Second}},
		{"max attempts gives up to the dead-letter tube", dead, "work", 4, time.Minute, nil, Decision{Action: DeadLetter, Tube: "dead"}},
		{"max age gives up", dead, "work", 2, 9*time.Minute + 50*time.Second, nil, Decision{Action: DeadLetter, Tube: "dead"}},
		{"dead letter into its own tube buries", dead, "dead", 4, 0, nil, Decision{Action: Bury}},
		{"dead letter without tube buries", &Policy{GiveUp: GiveUp{Action: DeadLetter}}, "work", 1, 0, nil, Decision{Action: Bury}},
		{"bury keeps no tube", &Policy{GiveUp: GiveUp{Action: Bury, Tube: "x"}}, "work", 1, 0, nil, Decision{Action: Bury}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Decide(tc.tube, tc.attempts, t0, t0.Add(tc.age), tc.rnd)
			if got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}
