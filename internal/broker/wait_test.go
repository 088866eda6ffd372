package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

func TestReserveTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		advance time.Duration
		want    error // nil: still blocked
	}{
		{"zero answers at once", 0, 0, ErrTimedOut},
		{"before timeout still blocked", 5 * time.Second, 5*time.Second - 1, nil},
		{"at timeout", 5 * time.Second, 5 * time.Second, ErrTimedOut},
		{"forever", -1, 1000 * time.Hour, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := newTest(t, nil)
			s := open(t, b)
			if tc.timeout == 0 {
				if _, err := reserveNow(t, s); !errors.Is(err, tc.want) {
					t.Fatalf("got %v", err)
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			bl := startReserve(t, b, s, ctx, tc.timeout)
			if st := b.Stats(); st.CurrentWaiting != 1 {
				t.Fatalf("current-waiting = %d", st.CurrentWaiting)
			}
			clk.Advance(tc.advance)
			if tc.want == nil {
				if bl.returned() {
					t.Fatalf("returned early: %v", bl.err)
				}
				cancel()
				if _, err := bl.result(t); !errors.Is(err, context.Canceled) {
					t.Fatalf("after cancel: %v", err)
				}
			} else if _, err := bl.result(t); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if st := b.Stats(); st.CurrentWaiting != 0 {
				t.Fatalf("current-waiting after = %d", st.CurrentWaiting)
			}
		})
	}
}

func TestReserveWakesOnPut(t *testing.T) {
	b, _ := newTest(t, nil)
	w := open(t, b)
	bl := startReserve(t, b, w, context.Background(), -1)
	p := open(t, b)
	id := mustPut(t, p, 0, 0, time.Minute, "hello")
	r, err := bl.result(t)
	if err != nil || r.ID != id || string(r.Body) != "hello" {
		t.Fatalf("got %+v %v", r, err)
	}
	if js, _ := b.StatsJob(id); js.State != job.Reserved || js.Reserves != 1 {
		t.Fatalf("stats-job: %+v", js)
	}
}

func TestWaitersServedInArrivalOrder(t *testing.T) {
	b, _ := newTest(t, nil)
	// w1 watches a and b, w2 watches b, w3 watches a; they start in order.
	w1, w2, w3 := open(t, b), open(t, b), open(t, b)
	w1.Watch("a")
	w1.Watch("b")
	w2.Watch("b")
	w3.Watch("a")
	for _, w := range []*Session{w1, w2, w3} {
		w.Ignore("default")
	}
	bl1 := startReserve(t, b, w1, context.Background(), -1)
	bl2 := startReserve(t, b, w2, context.Background(), -1)
	bl3 := startReserve(t, b, w3, context.Background(), -1)
	if ts, _ := b.StatsTube("a"); ts.CurrentWaiting != 2 || ts.CurrentWatching != 2 {
		t.Fatalf("stats-tube a: %+v", ts)
	}
	p := open(t, b)
	p.Use("b")
	j1 := mustPut(t, p, 0, 0, time.Minute, "1") // w1 is first in b
	j2 := mustPut(t, p, 0, 0, time.Minute, "2") // then w2
	p.Use("a")
	j3 := mustPut(t, p, 0, 0, time.Minute, "3") // w3 is the only one left on a
	for i, c := range []struct {
		bl   *blocked
		want job.ID
	}{{bl1, j1}, {bl2, j2}, {bl3, j3}} {
		r, err := c.bl.result(t)
		if err != nil || r.ID != c.want {
			t.Fatalf("waiter %d got %d %v, want %d", i+1, r.ID, err, c.want)
		}
	}
}

func TestDeadlineSoon(t *testing.T) {
	t.Run("at reserve when no job ready", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, 3*time.Second, "x")
		mustReserve(t, s, id)
		clk.Advance(2*time.Second - 1)
		if _, err := reserveNow(t, s); !errors.Is(err, ErrTimedOut) {
			t.Fatalf("outside the margin: %v, want ErrTimedOut", err)
		}
		clk.Advance(1)
		if _, err := s.Reserve(context.Background(), -1); !errors.Is(err, ErrDeadlineSoon) {
			t.Fatalf("inside the margin: %v, want ErrDeadlineSoon", err)
		}
	})
	t.Run("not when a job is ready", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, time.Second, "x")
		mustReserve(t, s, id)
		id2 := mustPut(t, s, 0, 0, time.Second, "y")
		clk.Advance(500 * time.Millisecond)
		mustReserve(t, s, id2)
	})
	t.Run("while blocked", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, 10*time.Second, "x")
		mustReserve(t, s, id)
		bl := startReserve(t, b, s, context.Background(), -1)
		clk.Advance(9*time.Second - 1)
		if bl.returned() {
			t.Fatalf("returned before the margin: %v", bl.err)
		}
		clk.Advance(1)
		if _, err := bl.result(t); !errors.Is(err, ErrDeadlineSoon) {
			t.Fatalf("got %v, want ErrDeadlineSoon", err)
		}
		if js, _ := b.StatsJob(id); js.State != job.Reserved || js.TimeLeft != time.Second {
			t.Fatalf("job after DEADLINE_SOON: %+v", js)
		}
		clk.Advance(time.Second)
		if js, _ := b.StatsJob(id); js.State != job.Ready || js.Timeouts != 1 {
			t.Fatalf("job after TTR: %+v", js)
		}
	})
	t.Run("before a longer reserve timeout", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, 10*time.Second, "x")
		mustReserve(t, s, id)
		bl := startReserve(t, b, s, context.Background(), 20*time.Second)
		clk.Advance(9 * time.Second)
		if _, err := bl.result(t); !errors.Is(err, ErrDeadlineSoon) {
			t.Fatalf("got %v, want ErrDeadlineSoon", err)
		}
	})
	t.Run("shorter reserve timeout first", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, 10*time.Second, "x")
		mustReserve(t, s, id)
		bl := startReserve(t, b, s, context.Background(), 2*time.Second)
		clk.Advance(2 * time.Second)
		if _, err := bl.result(t); !errors.Is(err, ErrTimedOut) {
			t.Fatalf("got %v, want ErrTimedOut", err)
		}
	})
	t.Run("job arriving while blocked is still handed over", func(t *testing.T) {
		b, clk := newTest(t, nil)
		s := open(t, b)
		id := mustPut(t, s, 0, 0, 10*time.Second, "x")
		mustReserve(t, s, id)
		bl := startReserve(t, b, s, context.Background(), -1)
		clk.Advance(5 * time.Second)
		p := open(t, b)
		id2 := mustPut(t, p, 0, 0, time.Minute, "y")
		if r, err := bl.result(t); err != nil || r.ID != id2 {
			t.Fatalf("got %+v %v", r, err)
		}
	})
}

func TestPauseTube(t *testing.T) {
	b, clk := newTest(t, nil)
	p := open(t, b)
	id := mustPut(t, p, 0, 0, time.Minute, "x")
	if err := b.PauseTube("nope", time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pause missing tube: %v", err)
	}
	if err := b.PauseTube("default", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	w := open(t, b)
	if _, err := reserveNow(t, w); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("reserve in paused tube: %v", err)
	}
	if p, err := b.PeekReady("default"); err != nil || p.ID != id {
		t.Fatalf("peek-ready in paused tube: %v %v", p.ID, err)
	}
	bl := startReserve(t, b, w, context.Background(), -1)
	clk.Advance(3 * time.Second)
	ts, _ := b.StatsTube("default")
	if ts.Pause != 10*time.Second || ts.PauseTimeLeft != 7*time.Second || ts.CmdPauseTube != 1 {
		t.Fatalf("stats-tube while paused: %+v", ts)
	}
	if bl.returned() {
		t.Fatal("reserve returned while paused")
	}
	clk.Advance(7 * time.Second)
	if r, err := bl.result(t); err != nil || r.ID != id {
		t.Fatalf("after pause: %+v %v", r, err)
	}
	ts, _ = b.StatsTube("default")
	if ts.Pause != 0 || ts.PauseTimeLeft != 0 {
		t.Fatalf("stats-tube after pause: %+v", ts)
	}
	// pause 0 ends at once
	mustPut(t, p, 0, 0, time.Minute, "y")
	if err := b.PauseTube("default", 0); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Nanosecond)
	if _, err := reserveNow(t, w); err != nil {
		t.Fatalf("after pause 0: %v", err)
	}
}

func TestContextCancelUnblocks(t *testing.T) {
	b, _ := newTest(t, nil)
	w := open(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	bl := startReserve(t, b, w, ctx, -1)
	cancel()
	if _, err := bl.result(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// the session is usable again and no longer a waiter
	p := open(t, b)
	id := mustPut(t, p, 0, 0, time.Minute, "x")
	if js, _ := b.StatsJob(id); js.State != job.Ready {
		t.Fatalf("job went to a cancelled waiter: %v", js.State)
	}
	mustReserve(t, w, id)
}

func TestCloseWakesAndReturnsJobs(t *testing.T) {
	b, _ := newTest(t, nil)
	s := b.Open()
	p := open(t, b)
	a := mustPut(t, p, 0, 0, time.Minute, "a")
	mustReserve(t, s, a)
	bl := startReserve(t, b, s, context.Background(), -1)
	s.Close()
	if _, err := bl.result(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked reserve after close: %v", err)
	}
	js, _ := b.StatsJob(a)
	if js.State != job.Ready || js.Releases != 0 || js.Timeouts != 0 {
		t.Fatalf("job after close: %+v", js)
	}
	if _, err := s.Put(0, 0, time.Second, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	s.Close() // idempotent
	if st := b.Stats(); st.CurrentConnections != 1 || st.TotalConnections != 2 || st.CurrentWorkers != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestBrokerCloseWakesWaiters(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	bl := startReserve(t, b, s, context.Background(), -1)
	b.Close()
	if _, err := bl.result(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Reserve(context.Background(), -1); !errors.Is(err, ErrClosed) {
		t.Fatalf("reserve after close: %v", err)
	}
}

// TestRealClockTimer checks the engine's timer on the wall clock: a short
// reserve timeout ends the wait (no timing is asserted, only the answer).
func TestRealClockTimer(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	s := b.Open()
	defer s.Close()
	if _, err := s.Reserve(context.Background(), 20*time.Millisecond); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("got %v, want ErrTimedOut", err)
	}
	if st := b.Stats(); st.CurrentWaiting != 0 {
		t.Fatalf("still waiting: %+v", st)
	}
}
