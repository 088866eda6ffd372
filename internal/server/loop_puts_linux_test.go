//go:build linux

package server

import (
	"bufio"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/wal"
)

// loggedServer serves a broker over a log in a temporary directory (the
// default durability, fsync interval), with the tube policies pols if
// not nil; hold, if set, is the loop's beforePass.
func loggedServer(t *testing.T, hold func(), pols *policy.Set) (*Server, *wal.Log, string) {
	t.Helper()
	lg, _, err := wal.Open(wal.Options{Dir: t.TempDir(), Fsync: wal.FsyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(broker.Config{Journal: lg, Policies: pols})
	srv, err := New(Config{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	srv.beforePass = hold
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		b.Close()
		_ = lg.Close()
	})
	return srv, lg, ln.Addr().String()
}

// loopGate stops a server's event loop between two passes, so that a test
// can fill several sockets before the loop looks at them.
type loopGate struct {
	held    atomic.Bool
	reached chan struct{}
	open    chan struct{}
}

func newLoopGate() *loopGate {
	return &loopGate{reached: make(chan struct{}, 1), open: make(chan struct{})}
}

// hook is the loop's beforePass.
func (g *loopGate) hook() {
	if g.held.Load() {
		g.reached <- struct{}{}
		<-g.open
	}
}

// hold returns once srv's loop waits at the gate: it rings the loop's
// doorbell (a request of nothing), so that a loop waiting for events
// comes round.
func (g *loopGate) hold(t *testing.T, srv *Server) {
	t.Helper()
	g.held.Store(true)
	loopOf(srv).request(func() {})
	poll.Receive(t, "the loop at the gate", g.reached)
}

// release lets the loop go on once n connections have bytes it has not
// read (the doorbell, maybe still rung, is not counted).
func (g *loopGate) release(t *testing.T, srv *Server, n int) {
	t.Helper()
	l := loopOf(srv)
	evs := make([]syscall.EpollEvent, n+2)
	poll.Until(t, "the sockets filled", func() bool {
		k, _ := syscall.EpollWait(l.ep, evs, 0)
		ready := 0
		for _, ev := range evs[:max(k, 0)] {
			if int(ev.Fd) != l.wake[0] {
				ready++
			}
		}
		return ready == n
	})
	g.held.Store(false)
	close(g.open)
}

// loopOf returns srv's event loop, started by its first connection.
func loopOf(srv *Server) *loop {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.loop
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dialClient(t *testing.T, addr string) client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return client{c, bufio.NewReader(c)}
}

func (c client) do(t *testing.T, cmds string, replies int) []string {
	t.Helper()
	if _, err := io.WriteString(c.c, cmds); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range replies {
		l, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, strings.TrimSuffix(l, "\r\n"))
	}
	return got
}

// The puts that the loop finds in one pass are written to the log with
// one write: each waits for the log only once all were appended, and
// none is answered before that write.
func TestLoopWritesThePutsOfAPassTogether(t *testing.T) {
	g := newLoopGate()
	srv, lg, addr := loggedServer(t, g.hook, nil)
	const n = 8
	conns := make([]client, n)
	for i := range conns {
		conns[i] = dialClient(t, addr)
		conns[i].do(t, "list-tube-used\r\n", 1)
	}
	if got := srv.Looped(); got != n {
		t.Fatalf("the loop serves %d connections, want %d", got, n)
	}
	g.hold(t, srv)
	before := lg.Stats().Batches
	for _, c := range conns {
		if _, err := io.WriteString(c.c, "put 0 0 60 2\r\nhi\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	g.release(t, srv, n)
	var ids []int
	for _, c := range conns {
		got := c.do(t, "", 1)[0]
		id, ok := strings.CutPrefix(got, "INSERTED ")
		if !ok {
			t.Fatalf("put answered %q", got)
		}
		k, err := strconv.Atoi(id)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k)
	}
	sort.Ints(ids)
	for i, id := range ids {
		if id != i+1 {
			t.Fatalf("ids %v, want 1 to %d", ids, n)
		}
	}
	if got := lg.Stats().Batches - before; got != 1 {
		t.Errorf("%d puts found in one pass took %d write batches, want 1", n, got)
	}
	st := srv.Broker().Stats()
	if st.CurrentJobsReady != n {
		t.Errorf("%d jobs ready, want %d", st.CurrentJobsReady, n)
	}
}

// What a connection sends after a put runs once the put is answered:
// it sees the job, and its replies come in order.
func TestLoopRunsWhatFollowsAPutAfterIt(t *testing.T) {
	srv, _, addr := loggedServer(t, nil, nil)
	c := dialClient(t, addr)
	got := c.do(t, "put 0 0 60 2\r\nhi\r\npeek 1\r\nput 0 0 60 3\r\nbye\r\ndelete 1\r\nstats-tube default\r\n", 6)
	want := []string{"INSERTED 1", "FOUND 1 2", "hi", "INSERTED 2", "DELETED"}
	if strings.Join(got[:5], "|") != strings.Join(want, "|") {
		t.Fatalf("replies %q, want %q then the stats", got, want)
	}
	if got := srv.Looped(); got != 1 {
		t.Fatalf("the loop serves %d connections, want 1", got)
	}
	// A put followed by quit is answered before the connection closes.
	q := dialClient(t, addr)
	if got := q.do(t, "put 0 0 60 1\r\nx\r\nquit\r\n", 1); got[0] != "INSERTED 3" {
		t.Fatalf("put before quit answered %q", got)
	}
	if _, err := q.r.ReadByte(); err != io.EOF {
		t.Fatalf("after quit: %v, want EOF", err)
	}
	if st := srv.Broker().Stats(); st.CurrentJobsReady != 2 {
		t.Errorf("%d jobs ready, want 2", st.CurrentJobsReady)
	}
}

// Two puts of one unique key in one pass: the second waits for the
// first, which the same pass logs, and is answered with its id (a wait
// for it where the put runs would stop the loop for ever).
func TestLoopAnswersADuplicateOfAPutOfTheSamePass(t *testing.T) {
	g := newLoopGate()
	pols := policy.NewSet(map[string]*policy.Policy{"u": {Unique: &policy.Unique{Window: time.Hour}}}, nil)
	srv, _, addr := loggedServer(t, g.hook, pols)
	a, b := dialClient(t, addr), dialClient(t, addr)
	for _, c := range []client{a, b} {
		c.do(t, "use u\r\n", 1)
	}
	g.hold(t, srv)
	for _, c := range []client{a, b} {
		if _, err := io.WriteString(c.c, "put 0 0 60 4\r\nsame\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	g.release(t, srv, 2)
	for i, c := range []client{a, b} {
		if got := c.do(t, "", 1)[0]; got != "INSERTED 1" {
			t.Fatalf("put %d answered %q, want INSERTED 1", i+1, got)
		}
	}
	ts, err := srv.Broker().StatsTube("u")
	if err != nil {
		t.Fatal(err)
	}
	if ts.CurrentJobsReady != 1 || ts.TotalJobs != 1 || ts.Duplicates != 1 {
		t.Errorf("tube u: %d ready, %d in all, %d duplicates; want 1, 1, 1", ts.CurrentJobsReady, ts.TotalJobs, ts.Duplicates)
	}
}
