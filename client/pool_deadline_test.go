package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
)

// deadlineSoon checks that err is a *DeadlineSoonError naming h.
func deadlineSoon(t *testing.T, what string, err error, h *Handle) {
	t.Helper()
	var e *DeadlineSoonError
	if !errors.As(err, &e) || !errors.Is(err, ErrDeadlineSoon) || e.Handle != h {
		t.Fatalf("%s = %v; want DEADLINE_SOON for job %d on %s", what, err, h.ID, h.Addr)
	}
}

// Pool.Reserve says DEADLINE_SOON when a Handle it gave has less than
// DeadlineMargin of its TTR left, at once or during a wait, as beanstalkd
// does on the connection holding the job (which agrees); a ready job wins
// over it; Touch and Delete end it. Servers and pool share a fake clock.
func TestPoolDeadlineSoon(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, clk, direct := fakeServers(t, 2, PoolConfig{})
	id, _ := direct[0].Put(ctx, []byte("slow"), 0, 0, 10*time.Second)
	h, err := p.Reserve(ctx, 0)
	if err != nil || h.ID != id {
		t.Fatalf("Reserve = %+v, %v; want job %d", h, err, id)
	}

	errc := make(chan error, 1)
	go func() {
		h, err := p.Reserve(ctx, -1)
		if err == nil {
			err = errors.New("reserved job " + string(h.Body))
		}
		errc <- err
	}()
	poll.Until(t, "the reserve waits", func() bool { return p.waiting("default") == 1 })
	clk.Advance(8 * time.Second)
	if _, err := p.Reserve(ctx, 0); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve with 2s of the TTR left = %v; want ErrTimedOut", err)
	}
	clk.Advance(time.Second)
	deadlineSoon(t, "waiting Reserve when 1s of the TTR is left", <-errc, h)
	deadlineSoon(t, "Reserve(0) when 1s of the TTR is left", func() error { _, err := p.Reserve(ctx, 0); return err }(), h)
	var e *Error
	if _, err := h.r.c.ReserveWithTimeout(ctx, 0); !errors.As(err, &e) || e.Code != "DEADLINE_SOON" {
		t.Fatalf("the server, on the Handle's connection: %v; want DEADLINE_SOON too", err)
	}

	// A job at hand is taken rather than reporting DEADLINE_SOON. A wait
	// of the Reserve that gave up may still be in flight on the server
	// (the fake clock holds its slice): then the job reaches the pool as
	// a spare, else it stays ready there with no wait to take it. Either
	// way it is at hand.
	other, _ := direct[1].Put(ctx, []byte("ready"), 0, 0, time.Minute)
	poll.Until(t, "the job is a spare, or ready with no wait on its server", func() bool {
		return p.Stats().Spares == 1 || (p.inFlight(p.servers[1], "default") == 0 && jobStat(t, direct[1], other, "state") == "ready")
	})
	h2, err := p.Reserve(ctx, 0)
	if err != nil || h2.ID != other || h2.Addr != direct[1].Addr() {
		t.Fatalf("Reserve with a ready job and a due Handle = %+v, %v; want the ready job", h2, err)
	}
	if err := h2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	// Touch gives it a whole TTR again.
	if err := h.Touch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Reserve(ctx, 0); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve after Touch = %v; want ErrTimedOut", err)
	}
	clk.Advance(9 * time.Second) // also ends every slice still in flight
	poll.Until(t, "no wait is in flight", func() bool {
		return statsOn(t, direct[0], "current-waiting") == 0 && statsOn(t, direct[1], "current-waiting") == 0
	})
	// With no wait in flight, a ready job found by asking the servers wins too.
	third, _ := direct[1].Put(ctx, []byte("ready"), 0, 0, time.Minute)
	h3, err := p.Reserve(ctx, 0)
	if err != nil || h3.ID != third || h3.Addr != direct[1].Addr() {
		t.Fatalf("Reserve with a ready job and a due Handle = %+v, %v; want the ready job", h3, err)
	}
	if err := h3.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	deadlineSoon(t, "Reserve 9s after Touch", func() error { _, err := p.Reserve(ctx, 0); return err }(), h)
	if err := h.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Reserve(ctx, 0); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve after Delete = %v; want ErrTimedOut", err)
	}
}

func TestPoolDeadlineSoonShortTTR(t *testing.T) { eachKind(t, 2, testPoolDeadlineSoonShortTTR) }

// A job with a TTR of 1s is within the margin as soon as it is reserved:
// the next Reserve says DEADLINE_SOON, naming it, on both kinds of server
// (the pool reads the TTR with stats-job). The pool's clock is fake and
// stands still, so nothing here depends on how fast the test runs.
func testPoolDeadlineSoonShortTTR(t *testing.T, addrs []string) {
	ctx := context.Background()
	p := newPool(t, PoolConfig{Addrs: addrs, clock: clock.NewFake(epoch)})
	if _, err := p.Put(ctx, "short", []byte("1s"), 0, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	h, err := p.Reserve(ctx, 0, "short")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Reserve(ctx, 0, "short")
	deadlineSoon(t, "Reserve while holding a job with a TTR of 1s", err, h)
	want := "reserve: job 1 on " + h.Addr + " has less than 1s of its TTR left: client: deadline soon"
	if err.Error() != want {
		t.Errorf("error reads %q; want %q", err, want)
	}
	_, err = p.Reserve(ctx, time.Hour, "other")
	deadlineSoon(t, "Reserve on another tube", err, h)
	if err := h.Release(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	h, err = p.Reserve(ctx, 0, "short")
	if err != nil || string(h.Body) != "1s" {
		t.Fatalf("Reserve after Release = %+v, %v; want the job again", h, err)
	}
}
