package cluster

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/jobcodec"
	"github.com/reprieve/reprieve/internal/poll"
)

// fakeLeaseConfig returns a one-node configuration on the shared NATS
// whose lease runs on a fake clock. The bucket's expiry runs on real
// time, so the lease is long: only the test's Advance moves the lease.
func fakeLeaseConfig(t *testing.T) (Config, *clock.Fake) {
	t.Helper()
	c := externalConfigs(t, 1)[0]
	c.Lease = time.Minute
	c.TombstoneTTL = 4 * time.Minute
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	c.Clock = fake
	return c, fake
}

// leadAlone opens a node on cfg and waits until it leads.
func leadAlone(t *testing.T, cfg Config) (*Node, *Leader) {
	t.Helper()
	n := openAll(t, []Config{cfg})[0]
	l, err := n.Lead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, l
}

// leaseBucket returns the lease bucket through a connection of the test's own,
// as another node would see it.
func leaseBucket(t *testing.T, cfg Config) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), namesFor(cfg.Name).bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestLeaseTiming pins the documented ratio: renew every quarter lease,
// wait for a renewal at most half a lease, valid for seven eighths of a
// lease after the last acknowledged renewal was sent.
func TestLeaseTiming(t *testing.T) {
	for _, lease := range []time.Duration{time.Second, 4 * time.Second} {
		if got, want := renewEvery(lease), lease/4; got != want {
			t.Errorf("renewEvery(%v) = %v, want %v", lease, got, want)
		}
		if got, want := renewTimeout(lease), lease/2; got != want {
			t.Errorf("renewTimeout(%v) = %v, want %v", lease, got, want)
		}
		if got, want := validFor(lease), lease*7/8; got != want {
			t.Errorf("validFor(%v) = %v, want %v", lease, got, want)
		}
	}
}

// TestLeaseRenewsOnItsClock: the leader renews once per quarter lease of
// its clock, and each renewal extends its validity to seven eighths of a
// lease after the renewal was sent.
func TestLeaseRenewsOnItsClock(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	kv := leaseBucket(t, cfg)
	rev := l.rev.Load()
	if got, want := time.Duration(l.validUntil.Load()), validFor(cfg.Lease); got != want {
		t.Fatalf("valid for %v after taking the lease, want %v", got, want)
	}
	fake.Advance(cfg.Lease/4 - time.Nanosecond)
	if got := l.rev.Load(); got != rev {
		t.Fatalf("renewed before a quarter lease (revision %d → %d)", rev, got)
	}
	for i := 1; i <= 3; i++ {
		if i == 1 {
			fake.Advance(time.Nanosecond)
		} else {
			fake.Advance(cfg.Lease / 4)
		}
		poll.Until(t, "a renewal", func() bool { return l.rev.Load() > rev })
		rev = l.rev.Load()
		sent := time.Duration(i) * cfg.Lease / 4
		poll.Until(t, "the validity set from the renewal", func() bool {
			return time.Duration(l.validUntil.Load()) == sent+validFor(cfg.Lease)
		})
		e, err := kv.Get(context.Background(), leaderKey)
		if err != nil {
			t.Fatal(err)
		}
		if e.Revision() != rev || string(e.Value()) != string(l.holder) {
			t.Fatalf("lease key at revision %d holds %q; the leader wrote %q at %d", e.Revision(), e.Value(), l.holder, rev)
		}
	}
	if !l.Valid() || l.Err() != nil {
		t.Fatalf("after three renewals: valid %v, err %v", l.Valid(), l.Err())
	}
}

// TestLateRenewalKeepsTheLease is the cause of "key revision mismatch"
// under load: a renewal that timed out at the leader was stored by
// JetStream all the same, so the key's revision is not the one the
// leader last saw. The key still holds the leader's own value, so it
// keeps the lease and renews from the stored revision.
func TestLateRenewalKeepsTheLease(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	kv := leaseBucket(t, cfg)
	// The late renewal: the leader's value, compare-and-set on its
	// revision, as the timed-out request would have been stored.
	late, err := kv.Update(context.Background(), leaderKey, l.holder, l.rev.Load())
	if err != nil {
		t.Fatal(err)
	}
	fake.Advance(cfg.Lease / 4)
	poll.Until(t, "the leader takes the late renewal's revision", func() bool { return l.rev.Load() == late || l.Err() != nil })
	if err := l.Err(); err != nil {
		t.Fatalf("the leader stepped down after its own late renewal: %v", err)
	}
	fake.Advance(cfg.Lease / 4)
	poll.Until(t, "a renewal from the late revision", func() bool { return l.rev.Load() > late || l.Err() != nil })
	if err := l.Err(); err != nil {
		t.Fatalf("renewal from the late revision: %v", err)
	}
	if !l.Valid() {
		t.Fatal("the leader is not valid after renewing")
	}
}

// TestTakenLeaseDeposes: a lease key that holds another node's value
// (it expired and that node took it) makes the leader step down at its
// next renewal, naming the node.
func TestTakenLeaseDeposes(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	kv := leaseBucket(t, cfg)
	other := jobcodec.AppendString(encodeTerm(term{Node: "n9", Addr: "127.0.0.1:1"}), "other/1")
	if _, err := kv.Update(context.Background(), leaderKey, other, l.rev.Load()); err != nil {
		t.Fatal(err)
	}
	fake.Advance(cfg.Lease / 4)
	poll.Receive(t, "the leader steps down", l.Done())
	err := l.Err()
	if !errors.Is(err, ErrDeposed) || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("err = %v; want ErrDeposed and a revision mismatch", err)
	}
	if want := "cluster: deposed: the lease was taken by node n9: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Fatalf("err = %q; want it to start %q", err, want)
	}
	if l.Valid() {
		t.Fatal("a deposed leader is valid")
	}
}

// TestExpiredLeaseDeposes: a lease key that is gone (it expired, or was
// deleted) makes the leader step down at its next renewal.
func TestExpiredLeaseDeposes(t *testing.T) {
	cfg, fake := fakeLeaseConfig(t)
	_, l := leadAlone(t, cfg)
	kv := leaseBucket(t, cfg)
	if err := kv.Purge(context.Background(), leaderKey); err != nil {
		t.Fatal(err)
	}
	fake.Advance(cfg.Lease / 4)
	poll.Receive(t, "the leader steps down", l.Done())
	want := "cluster: deposed: the lease expired before it was renewed (no renewal stored within 1m0s): "
	if err := l.Err(); !errors.Is(err, ErrDeposed) || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Fatalf("err = %v; want ErrDeposed starting %q", err, want)
	}
}

// TestIsolatedLeaderWithholdsReplies: a leader cut off from the majority
// (its two peers' NATS servers stopped, so no renewal can be stored)
// answers clients until seven eighths of a lease after its last renewal
// was sent, and from then on writes nothing to them: a reply waits for a
// renewal, and when none is stored within a lease it is refused with
// ErrLeaseLost and the connection closed.
func TestIsolatedLeaderWithholdsReplies(t *testing.T) {
	cfgs := testConfigs(t, 3)
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	for i := range cfgs {
		cfgs[i].Clock = fake
		cfgs[i].Lease = 10 * time.Second
		cfgs[i].TombstoneTTL = time.Minute
	}
	nodes := openAll(t, cfgs)
	l, err := nodes[0].Lead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := l.Guard(ln)
	defer g.Close()
	client, served := dialGuarded(t, g)
	if _, err := served.Write([]byte("OK\r\n")); err != nil {
		t.Fatalf("write while valid: %v", err)
	}
	readLine(t, client, "OK\r\n")

	crash(nodes[1])
	crash(nodes[2])
	// Renewals are due at each quarter lease; none can be stored now.
	fake.Advance(validFor(cfgs[0].Lease) - time.Nanosecond)
	if !l.Valid() {
		t.Fatal("not valid before seven eighths of the lease had passed")
	}
	if _, err := served.Write([]byte("STILL\r\n")); err != nil {
		t.Fatalf("write just before the lease ran out: %v", err)
	}
	readLine(t, client, "STILL\r\n")
	fake.Advance(time.Nanosecond)
	if l.Valid() {
		t.Fatalf("valid at seven eighths of the lease with no renewal stored (rev %d)", l.rev.Load())
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := served.Write([]byte("INSERTED 1\r\n"))
		wrote <- err
	}()
	waitWrites(t, l, 1)
	fake.Advance(cfgs[0].Lease - time.Nanosecond)
	notYet(t, wrote, "the write returned before a lease without renewal")
	fake.Advance(time.Nanosecond)
	err = poll.Receive(t, "the write refused", wrote)
	if !errors.Is(err, ErrLeaseLost) || err.Error() != "cluster: not leading: reply withheld" {
		t.Fatalf("write after the lease ran out: %v; want %v", err, ErrLeaseLost)
	}
	buf := make([]byte, 64)
	if k, err := client.Read(buf); err == nil {
		t.Fatalf("the client read %q after the lease ran out", buf[:k])
	}
}

// dialGuarded connects a client to g and returns both ends.
func dialGuarded(t *testing.T, g net.Listener) (client, served net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := g.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	served = poll.Receive(t, "the guarded listener accepts", accepted)
	if served == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { served.Close() })
	return client, served
}

// readLine reads want from c.
func readLine(t *testing.T, c net.Conn, want string) {
	t.Helper()
	buf := make([]byte, len(want))
	if err := c.SetReadDeadline(time.Now().Add(poll.Limit)); err != nil {
		t.Fatal(err)
	}
	k := 0
	for k < len(buf) {
		m, err := c.Read(buf[k:])
		if err != nil {
			t.Fatalf("read %q, then %v; want %q", buf[:k], err, want)
		}
		k += m
	}
	if string(buf) != want {
		t.Fatalf("read %q, want %q", buf, want)
	}
}
