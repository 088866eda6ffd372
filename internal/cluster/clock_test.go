package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/jobcodec"
	"github.com/reprieve/reprieve/internal/poll"
)

// The timing of a node other than its lease runs on its clock too: the
// presence key's renewal, the wait for a duplicate's key to expire, a
// proxied connection's wait for a leader and its redial, and a write
// that waits out a suspended lease. Each test counts the fake clock's
// pending timers before it advances: every goroutine of a node holds at
// most one (the presence keeper, the replica's checker or its pause
// before reading again, the lease keeper, one per waiting connection),
// so a count reached means every one of them is armed.

// waitTimers waits until fake has exactly n timers pending.
func waitTimers(t *testing.T, fake *clock.Fake, n int) {
	t.Helper()
	poll.Until(t, "the node's timers armed", func() bool { return fake.Pending() == n })
}

// waitTimerIn waits until a timer falls due d after fake's now: the wait
// of that length is armed, whatever else (a replica's pause before it
// reads the stream again) comes and goes.
func waitTimerIn(t *testing.T, fake *clock.Fake, d time.Duration) {
	t.Helper()
	poll.Until(t, "a timer armed for "+d.String(), func() bool { return fake.PendingAt(fake.Now().Add(d)) == 1 })
}

// waitWrites waits until n writes wait in l's await, their timers armed.
func waitWrites(t *testing.T, l *Leader, n int32) {
	t.Helper()
	poll.Until(t, "the writes waiting for the lease", func() bool { return l.waiting.Load() == n })
}

// notYet fails t if ch already holds a value: what must not have
// happened yet.
func notYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s (%v)", what, v)
	default:
	}
}

// suspendedWrite makes l's lease out of date, as renewals late by more
// than 5/8 of a lease leave it, writes a reply on served, and returns the
// write's outcome once the write waits for the lease.
func suspendedWrite(t *testing.T, fake *clock.Fake, l *Leader, served net.Conn) <-chan error {
	t.Helper()
	waitTimers(t, fake, 2) // presence, lease keeper (a leader reads no stream)
	l.validUntil.Store(0)
	wrote := make(chan error, 1)
	go func() {
		_, err := served.Write([]byte("RESERVED 1 1\r\n"))
		wrote <- err
	}()
	waitWrites(t, l, 1)
	notYet(t, wrote, "a write with the lease out of date returned before a renewal")
	return wrote
}

// presenceRevision returns the revision of cfg's node's presence key.
func presenceRevision(t *testing.T, kv jetstream.KeyValue, cfg Config) uint64 {
	t.Helper()
	e, err := kv.Get(context.Background(), "node."+cfg.Node)
	if err != nil {
		t.Fatal(err)
	}
	return e.Revision()
}

// TestPresenceRenewsOnItsClock: the presence key is rewritten once per
// quarter lease of the node's clock, and not before.
func TestPresenceRenewsOnItsClock(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	openAll(t, []Config{cfg})
	kv := leaseBucket(t, cfg)
	rev := presenceRevision(t, kv, cfg)
	for i := 1; i <= 3; i++ {
		waitTimers(t, fake, 2) // presence, replica checker
		fake.Advance(cfg.Lease/4 - time.Nanosecond)
		waitTimers(t, fake, 2)
		if got := presenceRevision(t, kv, cfg); got != rev {
			t.Fatalf("renewal %d: presence rewritten before a quarter lease (revision %d → %d)", i, rev, got)
		}
		fake.Advance(time.Nanosecond)
		poll.Until(t, "the presence key rewritten", func() bool { return presenceRevision(t, kv, cfg) > rev })
		rev = presenceRevision(t, kv, cfg)
	}
}

// TestDuplicateNodeWaitsOnItsClock: a node whose name is taken by a
// running node tries again every eighth of a lease of its clock and gives
// up once a lease and a half has passed.
func TestDuplicateNodeWaitsOnItsClock(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	openAll(t, []Config{cfg}) // the running node: presence, replica checker
	waitTimers(t, fake, 2)
	dup := cfg
	dup.Advertise = "127.0.0.1:1"
	opened := make(chan error, 1)
	go func() {
		n, err := Open(dup)
		if err == nil {
			n.Close()
		}
		opened <- err
	}()
	for i := 1; i <= 12; i++ {
		waitTimers(t, fake, 3) // and the duplicate's pause
		notYet(t, opened, fmt.Sprintf("Open returned after %d eighths of a lease", i-1))
		fake.Advance(cfg.Lease / 8)
	}
	waitTimers(t, fake, 3)
	notYet(t, opened, "Open returned at a lease and a half, not after")
	fake.Advance(cfg.Lease / 8)
	err := poll.Receive(t, "Open gives up", opened)
	if !errors.Is(err, ErrDuplicateNode) {
		t.Fatalf("Open: %v; want %v", err, ErrDuplicateNode)
	}
}

// TestProxyGivesUpOnItsClock: a connection to a follower while no node
// leads waits two leases of the node's clock for a leader, then is
// closed.
func TestProxyGivesUpOnItsClock(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	n := openAll(t, []Config{cfg})[0]
	_, c := proxied(t, n)
	closed := readErr(c)
	waitTimerIn(t, fake, 2*cfg.Lease) // the connection's wait for a leader
	fake.Advance(2*cfg.Lease - time.Nanosecond)
	waitTimerIn(t, fake, time.Nanosecond)
	notYet(t, closed, "the connection ended before two leases")
	fake.Advance(time.Nanosecond)
	if err := poll.Receive(t, "the connection closed", closed); err == nil {
		t.Fatal("the client read bytes from a proxy with no leader")
	}
}

// TestProxyRedialsOnItsClock: a proxied connection whose leader does not
// listen yet dials it again after redialPause of the node's clock, then
// pipes the leader's bytes to its client.
func TestProxyRedialsOnItsClock(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	n := openAll(t, []Config{cfg})[0]
	leaderAddr := "127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])
	publishTerm(t, cfg, term{Term: 1, Node: "n9", Addr: leaderAddr})
	poll.Until(t, "the follower reads the term", func() bool { t, _ := n.replica.leader(); return t.Term == 1 })
	p, c := proxied(t, n)
	// The connection is recorded once the proxy's wait for a leader has
	// ended and before it dials; the failed dial arms the pause before the
	// redial. Other timers may come and go meanwhile (the replica's pause
	// before it reads the stream again, if its consumer is lost on a
	// loaded machine): the pause is known by its deadline.
	poll.Until(t, "the first dial made and the redial's pause armed", func() bool {
		p.mu.Lock()
		k := len(p.conns)
		p.mu.Unlock()
		return k == 1 && fake.PendingAt(fake.Now().Add(redialPause)) == 1
	})
	p.mu.Lock()
	ups := len(p.ups)
	p.mu.Unlock()
	if ups != 0 {
		t.Fatalf("%d connections to a leader that does not listen", ups)
	}
	up, err := net.Listen("tcp", leaderAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	// A redial that never comes fails the test, not the whole run.
	_ = up.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	fake.Advance(redialPause)
	lc, err := up.Accept()
	if err != nil {
		t.Fatalf("the leader's listener: %v (no redial)", err)
	}
	defer lc.Close()
	if _, err := lc.Write([]byte("OK\r\n")); err != nil {
		t.Fatal(err)
	}
	readLine(t, c, "OK\r\n")
}

// TestSuspendedLeaseHoldsWrites: a reply written while the lease is out
// of date (its renewals were late) waits for the next renewal and then
// reaches the client; the connection stays open.
func TestSuspendedLeaseHoldsWrites(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	client, served := guarded(t, l)
	wrote := suspendedWrite(t, fake, l, served)
	fake.Advance(cfg.Lease / 4)
	if err := poll.Receive(t, "the write once renewed", wrote); err != nil {
		t.Fatalf("write after the renewal: %v", err)
	}
	readLine(t, client, "RESERVED 1 1\r\n")
	if _, err := served.Write([]byte("OK\r\n")); err != nil {
		t.Fatalf("the next write: %v", err)
	}
	readLine(t, client, "OK\r\n")
}

// TestSuspendedLeaseLostDropsWrites: a reply waiting out a suspended
// lease is withheld, and its connection closed, when the next renewal
// finds the lease taken.
func TestSuspendedLeaseLostDropsWrites(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	client, served := guarded(t, l)
	kv := leaseBucket(t, cfg)
	wrote := suspendedWrite(t, fake, l, served)
	other := jobcodec.AppendString(encodeTerm(term{Node: "n9", Addr: "127.0.0.1:1"}), "other/1")
	if _, err := kv.Update(context.Background(), leaderKey, other, l.rev.Load()); err != nil {
		t.Fatal(err)
	}
	fake.Advance(cfg.Lease / 4)
	if err := poll.Receive(t, "the write refused", wrote); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("write once the lease was taken: %v; want %v", err, ErrLeaseLost)
	}
	if err := poll.Receive(t, "the client's connection closed", readErr(client)); err == nil {
		t.Fatal("the client read a reply withheld")
	}
}

// proxied starts n's proxy on a loopback port, stopped when the test
// ends, and connects a client to it.
func proxied(t *testing.T, n *Node) (*Proxy, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := n.Proxy(ln)
	t.Cleanup(func() { p.Close() })
	return p, dial(t, ln.Addr().String())
}

// guarded returns a client connected through l's guard and the served
// end.
func guarded(t *testing.T, l *Leader) (client, served net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := l.Guard(ln)
	t.Cleanup(func() { g.Close() })
	return dialGuarded(t, g)
}

// dial connects to addr, closing the connection when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readErr reads c until it fails and sends the error: nil if any byte
// arrived first.
func readErr(c net.Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		k, err := c.Read(buf)
		if k > 0 {
			err = nil
		}
		ch <- err
	}()
	return ch
}

// publishTerm stores a term message in cfg's stream, as a leader's fence
// would.
func publishTerm(t *testing.T, cfg Config, tm term) {
	t.Helper()
	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), namesFor(cfg.Name).termSubject(), encodeTerm(tm)); err != nil {
		t.Fatal(err)
	}
}

// TestRegisterTakesItsOwnKey: a presence key holding this process's own
// value (a Create of ours that timed out here but was stored) is taken as
// the node's at once, not as another node's with the same name.
func TestRegisterTakesItsOwnKey(t *testing.T) {
	cfg, _ := fakeLeaseConfig(t)
	n := openAll(t, []Config{cfg})[0]
	// The key is there, with the value register writes on this clock.
	done := make(chan error, 1)
	go func() { done <- n.register(time.Now().Add(time.Minute)) }()
	if err := poll.Receive(t, "register returns", done); err != nil {
		t.Fatalf("register with the node's own key in place: %v", err)
	}
}
