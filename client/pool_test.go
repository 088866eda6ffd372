package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newPool(t *testing.T, cfg PoolConfig) *Pool {
	t.Helper()
	p, err := NewPool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func startServers(t testing.TB, n int) ([]*servertest.Beanstalkd, []string) {
	t.Helper()
	var bs []*servertest.Beanstalkd
	var addrs []string
	for range n {
		b := servertest.StartDurableBeanstalkd(t)
		bs = append(bs, b)
		addrs = append(addrs, b.Addr)
	}
	return bs, addrs
}

// eachKind runs f against n real beanstalkd servers and against n of
// Reprieve's own servers in-process.
func eachKind(t *testing.T, n int, f func(t *testing.T, addrs []string)) {
	t.Run("beanstalkd", func(t *testing.T) {
		t.Parallel()
		_, addrs := startServers(t, n)
		f(t, addrs)
	})
	t.Run("reprieve", func(t *testing.T) {
		t.Parallel()
		var addrs []string
		for range n {
			addrs = append(addrs, servertest.Start(t, nil).Addr)
		}
		f(t, addrs)
	})
}

// serverStats reads a key of a server's stats over a connection of its own.
func serverStat(t *testing.T, addr, key string) int64 {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Int(key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// blackhole accepts connections and reads them without ever answering: a
// server that hangs.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // protects conns
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func TestPoolConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg PoolConfig
		ok  bool
	}{
		{PoolConfig{Addrs: []string{"a:1", "b:1"}}, true},
		{PoolConfig{}, false},
		{PoolConfig{Addrs: []string{"a:1", "a:1"}}, false},
		{PoolConfig{Addrs: []string{""}}, false},
		{PoolConfig{Addrs: []string{"a:1"}, MaxInFlight: -1}, false},
		{PoolConfig{Addrs: []string{"a:1"}, PutTimeout: -time.Second}, false},
		{PoolConfig{Addrs: []string{"a:1"}, RedialMin: time.Minute, RedialMax: time.Second}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v; want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestPoolPutsRoundRobin(t *testing.T) { eachKind(t, 3, testPoolPutsRoundRobin) }

func testPoolPutsRoundRobin(t *testing.T, addrs []string) {
	p := newPool(t, PoolConfig{Addrs: addrs})
	ctx := context.Background()
	got := map[string]int{}
	for i := range 30 {
		ref, err := p.Put(ctx, "rr", fmt.Appendf(nil, "%d", i), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got[ref.Addr]++
	}
	for _, a := range addrs {
		if got[a] != 10 {
			t.Errorf("server %s got %d puts; want 10 of 30 (%v)", a, got[a], got)
		}
		if n := serverStat(t, a, "total-jobs"); n != 10 {
			t.Errorf("server %s stores %d jobs; want 10", a, n)
		}
	}
	if _, err := p.Put(ctx, "bad name", nil, 0, 0, 0); !errors.Is(err, ErrBadTubeName) {
		t.Errorf("Put bad tube = %v; want ErrBadTubeName", err)
	}
}

// A put unanswered for PutTimeout is re-sent to another server, and puts
// skip a server whose in-flight bound is reached instead of queueing there.
func TestPoolPutTimeoutAndInFlightBound(t *testing.T) {
	t.Parallel()
	hole := blackhole(t)
	_, addrs := startServers(t, 1)
	real := addrs[0]
	clk := clock.NewFake(epoch)
	p := newPool(t, PoolConfig{Addrs: []string{hole, real}, MaxInFlight: 1, PutTimeout: 3 * time.Second, clock: clk})
	p.next.Store(0) // the first put goes to the black hole
	ctx := context.Background()

	type result struct {
		ref JobRef
		err error
	}
	first := make(chan result, 1)
	go func() { ref, err := p.Put(ctx, "default", []byte("A"), 0, 0, time.Minute); first <- result{ref, err} }()
	poll.Until(t, "the first put is in flight at the black hole", func() bool { return p.Stats().Servers[0].InFlight == 1 })
	poll.Until(t, "the first put waits for its answer", func() bool { return clk.Pending() == 1 })

	for _, body := range []string{"B", "C"} {
		ref, err := p.Put(ctx, "default", []byte(body), 0, 0, time.Minute)
		if err != nil || ref.Addr != real {
			t.Fatalf("put %s = %+v, %v; want it on %s, not queued behind the black hole", body, ref, err, real)
		}
	}
	select {
	case r := <-first:
		t.Fatalf("first put returned %+v before its timeout", r)
	default:
	}
	clk.Advance(3 * time.Second)
	r := poll.Receive(t, "the first reserve to end", first)
	if r.err != nil || r.ref.Addr != real || r.ref.ID != 3 {
		t.Fatalf("timed-out put = %+v, %v; want job 3 re-sent to %s", r.ref, r.err, real)
	}
	st := p.Stats()
	if st.Resends != 1 || st.Live != 1 || st.Dead != 1 || st.Servers[0].Deaths != 1 || st.Servers[1].Puts != 3 {
		t.Errorf("stats = %+v; want 1 resend, the black hole dead, 3 puts on %s", st, real)
	}
}

// The redial backoff starts at RedialMin, doubles per failed attempt up to
// RedialMax (plus at most 20% jitter), and a server that listens again is
// live after the next attempt.
func TestPoolRedialBackoff(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: dials are refused
	clk := clock.NewFake(epoch)
	p := newPool(t, PoolConfig{Addrs: []string{addr}, RedialMin: 100 * time.Millisecond, RedialMax: 800 * time.Millisecond, clock: clk})
	if st := p.Stats(); st.Live != 0 || st.Dead != 1 {
		t.Fatalf("stats = %+v; want the server dead", st)
	}
	if _, err := p.Put(context.Background(), "default", nil, 0, 0, 0); !errors.Is(err, ErrNoServers) {
		t.Fatalf("Put with no live server = %v; want ErrNoServers", err)
	}
	redials := func() uint64 { return p.Stats().Servers[0].Redials }
	// The redialer may arm its next timer while Advance still runs the
	// callback that woke it, with the clock at that timer's deadline
	// rather than at the end of the Advance: its next wait can then start
	// up to early before the test's clock, which grows by at most each
	// step's jitter span.
	var early time.Duration
	for i, base := range []time.Duration{100, 200, 400, 800, 800} {
		base *= time.Millisecond
		poll.Until(t, "the redialer waits on the clock", func() bool { return clk.Pending() == 1 })
		clk.Advance(base - early - time.Nanosecond)
		if got := redials(); got != uint64(i) {
			t.Fatalf("attempt %d ran before its backoff of %v", i+1, base)
		}
		clk.Advance(early + base/5 + time.Nanosecond)
		early += base/5 + time.Nanosecond
		poll.Until(t, fmt.Sprintf("attempt %d after %v", i+1, base), func() bool { return redials() == uint64(i+1) })
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	poll.Until(t, "the redialer waits on the clock", func() bool { return clk.Pending() == 1 })
	up := p.serverUp.wait()
	clk.Advance(time.Second)
	poll.Receive(t, "the server to be up again", up)
	if st := p.Stats(); st.Live != 1 || st.Servers[0].Redials != 6 {
		t.Fatalf("stats = %+v; want the server live after 6 attempts", st)
	}
}

func TestPoolReserveAcrossServers(t *testing.T) { eachKind(t, 3, testPoolReserveAcrossServers) }

func testPoolReserveAcrossServers(t *testing.T, addrs []string) {
	p := newPool(t, PoolConfig{Addrs: addrs})
	ctx := context.Background()
	direct := make([]*Conn, 3)
	for i, a := range addrs {
		direct[i], _ = Dial(ctx, a)
		defer direct[i].Close()
	}

	if _, err := p.Reserve(ctx, 0, "work"); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve with nothing ready = %v; want ErrTimedOut", err)
	}
	id, _ := direct[2].PutIn(ctx, "work", []byte("on three"), 0, 0, time.Minute)
	h, err := p.Reserve(ctx, 0, "work")
	if err != nil || h.Addr != addrs[2] || h.ID != id || string(h.Body) != "on three" {
		t.Fatalf("Reserve = %+v, %v; want job %d from %s", h, err, id, addrs[2])
	}
	if err := h.Touch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx, 5, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete(ctx); !errors.Is(err, ErrFinished) {
		t.Fatalf("Delete after Release = %v; want ErrFinished", err)
	}
	if s, _ := direct[2].StatsJob(ctx, id); s.Text("state") != "delayed" || s.Text("pri") != "5" {
		t.Fatalf("released job: %v; want delayed with pri 5", s)
	}

	// A reserve waiting on every server takes the job that appears on one,
	// and the waits on the others end.
	got := make(chan *Handle)
	go func() {
		h, err := p.Reserve(ctx, -1, "work", "other")
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	for _, a := range addrs {
		poll.Until(t, "a reserve waits on "+a, func() bool { return serverStat(t, a, "current-waiting") == 1 })
	}
	id1, _ := direct[1].PutIn(ctx, "other", []byte("on two"), 0, 0, time.Minute)
	h = poll.Receive(t, "the reserve to get the job on two", got)
	if h == nil || h.Addr != addrs[1] || h.ID != id1 {
		t.Fatalf("waiting Reserve = %+v; want job %d from %s", h, id1, addrs[1])
	}
	for _, a := range addrs {
		poll.Until(t, "no reserve waits on "+a, func() bool { return serverStat(t, a, "current-waiting") == 0 })
	}
	if err := h.Bury(ctx, 9); err != nil {
		t.Fatal(err)
	}
	direct[1].Use(ctx, "other")
	if j, err := direct[1].PeekBuried(ctx); err != nil || j.ID != id1 {
		t.Fatalf("PeekBuried = %+v, %v; want the job buried through its handle", j, err)
	}
	direct[1].Delete(ctx, id1)
	direct[2].Delete(ctx, id)

	// Handles of jobs reserved together keep their own connections.
	for i := range 3 {
		direct[i].PutIn(ctx, "many", []byte{byte('a' + i)}, 0, 0, time.Minute)
	}
	var hs []*Handle
	for range 3 {
		h, err := p.Reserve(ctx, time.Second, "many")
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	for _, h := range hs {
		if err := h.Delete(ctx); err != nil {
			t.Fatalf("Delete job %d on %s: %v", h.ID, h.Addr, err)
		}
	}
	if _, err := p.Reserve(ctx, time.Second, "many"); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("Reserve of an empty tube for 1s = %v; want ErrTimedOut", err)
	}
}
