package client

import (
	"context"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
)

// fakeServers starts n in-process Reprieve servers and a pool over them,
// all on one fake clock: reserve-with-timeout slices end, TTRs run out and
// the pool's timers fire only when the test advances it.
func fakeServers(t *testing.T, n int, cfg PoolConfig) (*Pool, *clock.Fake, []*Conn) {
	t.Helper()
	clk := clock.NewFake(epoch)
	var direct []*Conn
	for range n {
		srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{Clock: clk}})
		cfg.Addrs = append(cfg.Addrs, srv.Addr)
		c, err := Dial(context.Background(), srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		direct = append(direct, c)
	}
	cfg.clock = clk
	return newPool(t, cfg), clk, direct
}

// waitingEverywhere starts a Reserve on tubes key that waits, and returns
// once every server has its reserve-with-timeout; the channel yields what
// the Reserve returned.
func waitingEverywhere(t *testing.T, p *Pool, direct []*Conn, key string) <-chan *Handle {
	t.Helper()
	got := make(chan *Handle, 1)
	go func() {
		h, err := p.Reserve(context.Background(), -1, key)
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	for _, c := range direct {
		poll.Until(t, "a reserve waits on "+c.Addr(), func() bool { return statsOn(t, c, "current-waiting") == 1 })
	}
	return got
}

// jobStat reads key of stats-job id over c.
func jobStat(t *testing.T, c *Conn, id uint64, key string) string {
	t.Helper()
	s, err := c.StatsJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Text(key)
}

// When two servers hand out a job for one Reserve, the second is kept for
// the next Reserve on the same tubes (no server is asked again), released
// with its priority after SpareHold, and released at once when too little
// of its TTR is left to hand it out.
func TestPoolSpareJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, clk, direct := fakeServers(t, 2, PoolConfig{SpareHold: 5 * time.Second})
	for _, c := range direct {
		c.Use(ctx, "spare")
	}
	put := func(i int, body string, pri uint32, ttr time.Duration) uint64 {
		t.Helper()
		id, err := direct[i].Put(ctx, []byte(body), pri, 0, ttr)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// Kept, then taken by the next Reserve.
	got := waitingEverywhere(t, p, direct, "spare")
	a := put(0, "a", 7, time.Minute)
	if h := poll.Receive(t, "the reserve to get a", got); h == nil || h.Addr != direct[0].Addr() || h.ID != a {
		t.Fatalf("waiting Reserve = %+v; want job a from the first server", h)
	}
	b := put(1, "b", 9, time.Minute)
	poll.Until(t, "job b is a spare", func() bool { return p.Stats().Spares == 1 })
	if s := jobStat(t, direct[1], b, "state"); s != "reserved" {
		t.Fatalf("spare job b is %s on its server; want reserved", s)
	}
	reserves := statsOn(t, direct[1], "cmd-reserve-with-timeout")
	h, err := p.Reserve(ctx, 0, "spare")
	if err != nil || h.Addr != direct[1].Addr() || h.ID != b || string(h.Body) != "b" {
		t.Fatalf("next Reserve = %+v, %v; want the spare job b", h, err)
	}
	if n := statsOn(t, direct[1], "cmd-reserve-with-timeout"); n != reserves {
		t.Errorf("taking the spare sent %d reserves to its server; want none", n-reserves)
	}
	if err := h.Delete(ctx); err != nil {
		t.Fatal(err)
	}

	// Kept, and released with its own priority once SpareHold has passed.
	got = waitingEverywhere(t, p, direct, "spare")
	put(0, "c", 7, time.Minute)
	poll.Receive(t, "the reserve to get c", got)
	d := put(1, "d", 9, time.Minute)
	poll.Until(t, "job d is a spare", func() bool { return p.Stats().Spares == 1 })
	clk.Advance(5*time.Second - time.Nanosecond)
	if st := p.Stats(); st.Spares != 1 || st.SparesReleased != 0 {
		t.Fatalf("before SpareHold: %+v; want job d still kept", st)
	}
	clk.Advance(time.Nanosecond)
	poll.Until(t, "job d is released", func() bool { return p.Stats().SparesReleased == 1 })
	if st, pri, rel := jobStat(t, direct[1], d, "state"), jobStat(t, direct[1], d, "pri"), jobStat(t, direct[1], d, "releases"); st != "ready" || pri != "9" || rel != "1" {
		t.Fatalf("released spare d: state %s, pri %s, releases %s; want ready, 9, 1", st, pri, rel)
	}
	direct[1].Delete(ctx, d)

	// A spare with a TTR of 2s (no more than 2×DeadlineMargin) goes back at once.
	got = waitingEverywhere(t, p, direct, "spare")
	put(0, "e", 7, time.Minute)
	poll.Receive(t, "the reserve to get e", got)
	f := put(1, "f", 4, 2*time.Second)
	poll.Until(t, "job f is released", func() bool { return p.Stats().SparesReleased == 2 })
	if st, pri := jobStat(t, direct[1], f, "state"), jobStat(t, direct[1], f, "pri"); st != "ready" || pri != "4" {
		t.Fatalf("released short-TTR spare f: state %s, pri %s; want ready, 4", st, pri)
	}
	if st := p.Stats(); st.Spares != 0 {
		t.Fatalf("stats = %+v; want no spare", st)
	}
}
