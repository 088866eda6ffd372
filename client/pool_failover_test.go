package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
)

// A draining server answers DRAINING: the put goes to the next server at
// once, and later puts avoid the draining one for RedialMax.
func TestPoolDrainingServerIsAvoided(t *testing.T) {
	t.Parallel()
	bs, addrs := startServers(t, 2)
	clk := clock.NewFake(epoch)
	p := newPool(t, PoolConfig{Addrs: addrs, RedialMax: time.Minute, clock: clk})
	p.next.Store(0)
	bs[0].Drain()
	ctx := context.Background()
	for i := range 4 {
		ref, err := p.Put(ctx, "default", []byte("x"), 0, 0, time.Minute)
		if err != nil || ref.Addr != addrs[1] {
			t.Fatalf("put %d = %+v, %v; want it on %s", i, ref, err, addrs[1])
		}
	}
	if st := p.Stats(); st.Resends != 1 || st.Live != 2 {
		t.Fatalf("stats = %+v; want one resend and both servers live (a draining server still serves reserves)", st)
	}
	// Once RedialMax has passed the draining server is tried again.
	clk.Advance(time.Minute)
	p.next.Store(0)
	if _, err := p.Put(ctx, "default", []byte("x"), 0, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Resends != 2 {
		t.Fatalf("resends = %d; want 2 (the draining server tried again after RedialMax)", st.Resends)
	}
}

// A reserve waiting on the live servers takes in a server that comes back,
// and gets a job put there.
func TestPoolReserveJoinsServerThatComesBack(t *testing.T) {
	t.Parallel()
	bs, addrs := startServers(t, 2)
	bs[1].Kill()
	clk := clock.NewFake(epoch)
	p := newPool(t, PoolConfig{Addrs: addrs, clock: clk})
	if st := p.Stats(); st.Live != 1 {
		t.Fatalf("stats = %+v; want one live server", st)
	}
	ctx := context.Background()
	got := make(chan *Handle)
	go func() {
		h, err := p.Reserve(ctx, -1)
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	poll.Until(t, "a reserve waits on "+addrs[0], func() bool { return serverStat(t, addrs[0], "current-waiting") == 1 })

	bs[1].Restart()
	poll.Until(t, "the redialer waits on the clock", func() bool { return clk.Pending() == 1 })
	clk.Advance(time.Second)
	poll.Until(t, "a reserve waits on "+addrs[1], func() bool { return serverStat(t, addrs[1], "current-waiting") == 1 })
	c, err := Dial(ctx, addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, _ := c.Put(ctx, []byte("back"), 0, 0, time.Minute)
	h := poll.Receive(t, "the reserve to get the job", got)
	if h == nil || h.Addr != addrs[1] || h.ID != id {
		t.Fatalf("Reserve = %+v; want job %d from the server that came back", h, id)
	}
	if err := h.Delete(ctx); err != nil {
		t.Fatal(err)
	}

	// A waiting Reserve learns that every server died (the pool may not
	// know it yet when it starts: a wait may still be in flight on one) and
	// says so; the fake clock never ends its timeout.
	bs[0].Kill()
	bs[1].Kill()
	_, err = p.Reserve(ctx, time.Minute)
	if !errors.Is(err, ErrNoServers) {
		t.Fatalf("Reserve with every server killed = %v; want ErrNoServers", err)
	}
}

// A server killed while a Reserve waits on three is dropped from the wait
// at once; the wait goes on on the other two without touching their
// connections, and takes a job put there.
func TestPoolReserveWaitSurvivesKill(t *testing.T) {
	t.Parallel()
	bs, addrs := startServers(t, 3)
	clk := clock.NewFake(epoch) // holds the redial of the killed server
	p := newPool(t, PoolConfig{Addrs: addrs, clock: clk})
	ctx := context.Background()
	direct := make([]*Conn, 3)
	for i, a := range addrs {
		c, err := Dial(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		direct[i] = c
	}
	got := make(chan *Handle, 1)
	go func() {
		h, err := p.Reserve(ctx, -1)
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	for _, c := range direct {
		poll.Until(t, "a reserve waits on "+c.Addr(), func() bool { return statsOn(t, c, "current-waiting") == 1 })
	}
	before := []int64{statsOn(t, direct[0], "total-connections"), 0, statsOn(t, direct[2], "total-connections")}
	bs[1].Kill()
	poll.Until(t, "the killed server is taken for dead", func() bool { return !p.Stats().Servers[1].Live })
	id, _ := direct[2].Put(ctx, []byte("after the kill"), 0, 0, time.Minute)
	h := poll.Receive(t, "the reserve to get the job after the kill", got)
	if h == nil || h.Addr != addrs[2] || h.ID != id {
		t.Fatalf("Reserve = %+v; want job %d from %s", h, id, addrs[2])
	}
	if err := h.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		if n := statsOn(t, direct[i], "total-connections"); n != before[i] {
			t.Errorf("%s: total-connections %d; want %d (no connection of a live server closed and reopened)", addrs[i], n, before[i])
		}
	}
	if st := p.Stats(); st.Live != 2 || st.Servers[1].Deaths != 1 {
		t.Errorf("stats = %+v; want 2 live servers, %s dead once", st, addrs[1])
	}
}
