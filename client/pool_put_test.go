package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
)

// slowProxy forwards connections to a real server at once but holds back
// every reply until release is called: a server that does the work and
// answers late.
type slowProxy struct {
	Addr string

	release chan struct{}
	once    sync.Once
	hungUp  atomic.Int64 // client connections that ended
}

// startSlowProxy starts a slowProxy in front of target. A client that
// hangs up has its half-close passed on to the server, as a real proxy
// does; the cleanup closes every connection, also one accepted while it
// runs, and waits for every goroutine of the proxy.
func startSlowProxy(t *testing.T, target string) *slowProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sp := &slowProxy{Addr: l.Addr().String(), release: make(chan struct{})}
	var wg sync.WaitGroup
	var mu sync.Mutex // protects conns and closed
	var conns []net.Conn
	closed := false
	// track keeps in and out for the cleanup to close; once the cleanup
	// has run it closes them at once and reports false.
	track := func(in, out net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			in.Close()
			out.Close()
			return false
		}
		conns = append(conns, in, out)
		return true
	}
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			if !track(in, out) {
				continue
			}
			wg.Go(func() {
				io.Copy(out, in)
				sp.hungUp.Add(1)
				out.(*net.TCPConn).CloseWrite()
			})
			wg.Go(func() {
				<-sp.release
				io.Copy(in, out)
				in.Close()
			})
		}
	})
	t.Cleanup(func() {
		sp.Release()
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		stopped := make(chan struct{})
		go func() { wg.Wait(); close(stopped) }()
		poll.Receive(t, "the proxy's goroutines to end", stopped)
	})
	return sp
}

// Release lets the held replies through.
func (sp *slowProxy) Release() { sp.once.Do(func() { close(sp.release) }) }

// With MaxInFlight 4, a server that stores puts but answers late gets
// exactly 4 of 10 puts and the others go to the other server; once
// PutTimeout passes the 4 are re-sent there. If the late server answers
// within one more PutTimeout its copies are deleted, so every job is
// stored once; if it answers later the pool has closed the connection and
// its copies stay, as the package documents (at least once).
func TestPoolPutInFlightBoundAndLateAnswer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		after      time.Duration // how long after the timeout the answers come
		lateCopies int64
	}{
		{"answer within the window", 0, 0},
		{"answer after the window", 5 * time.Second, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, addrs := startServers(t, 2)
			slow := startSlowProxy(t, addrs[0])
			clk := clock.NewFake(epoch)
			p := newPool(t, PoolConfig{Addrs: []string{slow.Addr, addrs[1]}, MaxInFlight: 4, PutTimeout: 5 * time.Second, clock: clk})
			p.next.Store(0)

			type result struct {
				ref JobRef
				err error
			}
			results := make(chan result, 10)
			done := 0
			for i := range 10 {
				go func() {
					ref, err := p.Put(ctx, "late", fmt.Appendf(nil, "%d", i), 0, 0, time.Minute)
					results <- result{ref, err}
				}()
				poll.Until(t, fmt.Sprintf("put %d is answered or in flight", i), func() bool {
					select {
					case r := <-results:
						if r.err != nil || r.ref.Addr != addrs[1] {
							t.Fatalf("put = %+v, %v; want it on %s", r.ref, r.err, addrs[1])
						}
						done++
					default:
					}
					return done+p.Stats().Servers[0].InFlight == i+1
				})
			}
			if st := p.Stats(); done != 6 || st.Servers[0].InFlight != 4 {
				t.Fatalf("%d puts answered, stats %+v; want 6 answered and 4 in flight at the slow server", done, st)
			}
			poll.Until(t, "the slow server stores the 4 puts it got", func() bool { return serverStat(t, addrs[0], "total-jobs") == 4 })
			poll.Until(t, "the 4 puts wait for their answers", func() bool { return clk.Pending() == 4 })

			clk.Advance(5 * time.Second)
			for i := range 4 {
				if r := poll.Receive(t, fmt.Sprintf("timed-out put %d of 4 re-sent", i+1), results); r.err != nil || r.ref.Addr != addrs[1] {
					t.Fatalf("timed-out put = %+v, %v; want it re-sent to %s", r.ref, r.err, addrs[1])
				}
			}
			if tc.after > 0 {
				// The pool keeps its connection to the late server for one
				// PutTimeout and redials it, both on timers that goroutines
				// start after the puts were re-sent.
				poll.Until(t, "the kept connection and the redial wait on the clock", func() bool { return clk.Pending() == 2 })
				clk.Advance(tc.after)
				poll.Until(t, "the pool has closed its connection to the late server", func() bool { return slow.hungUp.Load() == 1 })
				slow.Release()
			} else {
				slow.Release()
				poll.Until(t, "the late copies are deleted", func() bool { return p.Stats().LateDeleted == 4 })
			}
			st := p.Stats()
			if st.Resends != 4 || st.Servers[0].Deaths != 1 || st.Servers[1].Puts != 10 || st.LateKept != 0 {
				t.Errorf("stats = %+v; want 4 resends, the slow server taken for dead once, 10 puts acknowledged by %s, no late copy kept knowingly", st, addrs[1])
			}
			if n := serverStat(t, addrs[1], "current-jobs-ready"); n != 10 {
				t.Errorf("%s holds %d jobs; want all 10", addrs[1], n)
			}
			if n := serverStat(t, addrs[0], "current-jobs-ready"); n != tc.lateCopies {
				t.Errorf("the late server holds %d jobs; want %d", n, tc.lateCopies)
			}
		})
	}
}

// A put that times out on the only server fails; if the server then
// answers, its copy is the only one and stays, counted as LateKept.
func TestPoolPutLateAnswerAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, addrs := startServers(t, 1)
	slow := startSlowProxy(t, addrs[0])
	clk := clock.NewFake(epoch)
	p := newPool(t, PoolConfig{Addrs: []string{slow.Addr}, PutTimeout: 5 * time.Second, clock: clk})
	errc := make(chan error, 1)
	go func() {
		_, err := p.Put(ctx, "late", []byte("only"), 0, 0, time.Minute)
		errc <- err
	}()
	poll.Until(t, "the put waits for its answer", func() bool { return clk.Pending() == 1 })
	clk.Advance(5 * time.Second)
	if err := poll.Receive(t, "the put to fail", errc); !errors.Is(err, ErrNoServers) || !errors.Is(err, errPutTimeout) {
		t.Fatalf("Put = %v; want ErrNoServers after the timeout", err)
	}
	slow.Release()
	poll.Until(t, "the late answer is read", func() bool { return p.Stats().LateKept == 1 })
	if n := serverStat(t, addrs[0], "current-jobs-ready"); n != 1 || p.Stats().LateDeleted != 0 {
		t.Errorf("the server holds %d jobs, %d late copies deleted; want the one copy kept", n, p.Stats().LateDeleted)
	}
}
