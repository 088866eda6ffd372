package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

var errDue = errors.New("due")

// TestAlarm sets, clears and moves an alarm's due time on a fake clock
// and checks when it cancels, and that it keeps one timer: a later due
// time leaves the armed timer alone (which re-arms when it fires), an
// earlier one replaces it, and a timer that fires with nothing due is not
// re-armed.
func TestAlarm(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newCtx := func() (context.Context, context.CancelCauseFunc) {
		return context.WithCancelCause(context.Background())
	}
	check := func(t *testing.T, clk *clock.Fake, ctx context.Context, cancelled bool, timers int) {
		t.Helper()
		if got := context.Cause(ctx); (got != nil) != cancelled || (cancelled && got != errDue) {
			t.Fatalf("at +%v: cause %v, want cancelled %v with errDue", clk.Now().Sub(t0), got, cancelled)
		}
		if got := clk.Pending(); got != timers {
			t.Fatalf("at +%v: %d timers armed, want %d", clk.Now().Sub(t0), got, timers)
		}
	}

	t.Run("cancels at the due time", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a := &alarm{clk: clk}
		ctx, cancel := newCtx()
		a.set(t0.Add(10*time.Second), cancel, errDue)
		clk.Advance(10*time.Second - time.Nanosecond)
		check(t, clk, ctx, false, 1)
		clk.Advance(time.Nanosecond)
		check(t, clk, ctx, true, 0)
	})

	t.Run("a later due time keeps the timer, which re-arms", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a := &alarm{clk: clk}
		first, cancelFirst := newCtx()
		a.set(t0.Add(10*time.Second), cancelFirst, errDue)
		a.clear()
		second, cancelSecond := newCtx()
		a.set(t0.Add(20*time.Second), cancelSecond, errDue)
		check(t, clk, second, false, 1)
		clk.Advance(10 * time.Second)
		check(t, clk, first, false, 1)
		check(t, clk, second, false, 1)
		clk.Advance(10 * time.Second)
		check(t, clk, second, true, 0)
	})

	t.Run("an earlier due time replaces the timer", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a := &alarm{clk: clk}
		_, cancelFirst := newCtx()
		a.set(t0.Add(20*time.Second), cancelFirst, errDue)
		a.clear()
		second, cancelSecond := newCtx()
		a.set(t0.Add(5*time.Second), cancelSecond, errDue)
		check(t, clk, second, false, 1)
		clk.Advance(5 * time.Second)
		check(t, clk, second, true, 0)
	})

	t.Run("cleared: the timer fires, cancels nothing, is not re-armed", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a := &alarm{clk: clk}
		ctx, cancel := newCtx()
		a.set(t0.Add(10*time.Second), cancel, errDue)
		a.clear()
		clk.Advance(time.Minute)
		check(t, clk, ctx, false, 0)
		// The next set arms again.
		a.set(clk.Now().Add(time.Second), cancel, errDue)
		check(t, clk, ctx, false, 1)
		clk.Advance(time.Second)
		check(t, clk, ctx, true, 0)
	})

	t.Run("stop disarms", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a := &alarm{clk: clk}
		ctx, cancel := newCtx()
		a.set(t0.Add(10*time.Second), cancel, errDue)
		a.stop()
		check(t, clk, ctx, false, 0)
		clk.Advance(time.Minute)
		check(t, clk, ctx, false, 0)
	})
}
