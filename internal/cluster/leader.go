package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/jobcodec"
)

// leaderKey is the lease's key in the bucket (doc.go, The lease).
const leaderKey = "leader"

// Leader is a node's term as leader: the jobs it restores, its lease and
// its fence. It ends (Done) when the node steps down: its lease was lost
// or ran out, a publish was refused, or the node closed. A Leader never
// leads again; the node must be restarted to follow.
type Leader struct {
	n    *Node
	term term
	seq  uint64 // the stream sequence of its term message
	jobs []*job.Job
	next job.ID

	holder     []byte        // the lease's value while this term holds it (leaseValue)
	rev        atomic.Uint64 // the lease key's revision it last wrote
	validUntil atomic.Int64  // lease valid until, in nanoseconds since start
	start      time.Time     // the origin of validUntil, on the node's clock

	// wmu protects woken, closed and replaced at each renewal that
	// extends validUntil, for writes waiting out a suspended lease (await).
	wmu   sync.Mutex
	woken chan struct{}
	// waiting counts the writes waiting in await, their timers armed.
	waiting atomic.Int32

	down atomic.Bool
	once sync.Once
	done chan struct{}
	// why is set once, before done is closed.
	why error
}

// Term returns the leader's term: 1 for a cluster's first leader, one
// more at each takeover.
func (l *Leader) Term() uint64 { return l.term.Term }

// Restored returns the jobs read from the stream, in id order, and the
// next id to hand out; hand them to the engine's Restore before serving
// (the engine takes next as is). The slice belongs to
// the caller.
func (l *Leader) Restored() ([]*job.Job, job.ID) {
	jobs := l.jobs
	l.jobs = nil
	return jobs, l.next
}

// Done is closed when the leader steps down; Err then says why.
func (l *Leader) Done() <-chan struct{} { return l.done }

// Err returns why the leader stepped down (wrapping ErrDeposed or
// ErrClosed), nil while it leads.
func (l *Leader) Err() error {
	select {
	case <-l.done:
		return l.why
	default:
		return nil
	}
}

// Valid reports whether the leader may answer clients now: it has not
// stepped down and its lease has not run out by its own clock.
func (l *Leader) Valid() bool {
	return !l.down.Load() && int64(l.n.clk.Now().Sub(l.start)) < l.validUntil.Load()
}

// renewed notes a lease write sent at sent and stored at revision rev:
// the lease holds until sent plus validFor(lease).
func (l *Leader) renewed(sent time.Time, rev uint64) {
	l.rev.Store(rev)
	l.validUntil.Store(int64(sent.Sub(l.start) + validFor(l.n.cfg.Lease)))
	l.wmu.Lock()
	if l.woken != nil {
		close(l.woken)
		l.woken = nil
	}
	l.wmu.Unlock()
}

// await reports whether the leader may answer a client now, waiting while
// its lease is only suspended: its renewals have been late (a JetStream
// election, a loaded machine) but it has not stepped down. It returns true
// as soon as a renewal makes the lease valid again — a renewal is
// compare-and-set on the revision the leader last wrote, so no other node
// can have led in between — and false once the leader steps down or a
// whole lease has passed on the node's clock without a renewal (JetStream
// is out of reach: the lease has expired in the bucket by then).
func (l *Leader) await() bool {
	if l.Valid() {
		return true
	}
	giveUp, stop := l.n.after(l.n.cfg.Lease)
	defer stop()
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	for {
		l.wmu.Lock()
		if l.woken == nil {
			l.woken = make(chan struct{})
		}
		woken := l.woken
		l.wmu.Unlock()
		if l.Valid() {
			return true
		}
		select {
		case <-woken:
		case <-l.done:
			return false
		case <-giveUp:
			return false
		}
	}
}

// The lease's timing (doc.go, The lease). The bucket keeps the key for the
// lease L after the write that stored it; the leader sends a renewal every
// renewEvery(L), waits for each at most renewTimeout(L), and counts the
// lease valid until validFor(L) after it SENT its last renewal that
// JetStream acknowledged. A write is stored after it was sent, so the key
// outlives the leader's validity by at least L/8 (for the clocks' drift):
// no other node can take the lease while the leader still answers. With
// renewals every L/4, a leader suspends only after its renewals failed or
// were late for more than 5/8 L in a row.
func renewEvery(lease time.Duration) time.Duration   { return lease / 4 }
func renewTimeout(lease time.Duration) time.Duration { return lease / 2 }
func validFor(lease time.Duration) time.Duration     { return lease - lease/8 }

// leaseValue is the lease key's value for this node's attempt-th
// attempt to lead: term, node and addr as in a term message (term 0: not
// yet known), then the holder, unique to the process and the attempt, by
// which a leader recognises its own renewal (keepLease).
func (n *Node) leaseValue(attempt int) []byte {
	return jobcodec.AppendString(encodeTerm(term{Node: n.cfg.Node, Addr: n.cfg.Advertise}), fmt.Sprintf("%s/%d", n.instance, attempt))
}

// leaseNode returns the node named in a lease value, "?" if it cannot be
// read.
func leaseNode(v []byte) string {
	d := decoder(v)
	d.Uvarint("term")
	node := d.String("node")
	if d.Err != nil {
		return "?"
	}
	return node
}

// after returns a channel closed once d has passed on the node's clock,
// and the timer to stop it.
func (n *Node) after(d time.Duration) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	t := n.clk.AfterFunc(d, func() { close(ch) })
	return ch, func() { t.Stop() }
}

// stepDown ends the term once, recording why; it never blocks.
func (l *Leader) stepDown(why error) {
	l.once.Do(func() {
		l.down.Store(true)
		l.why = why
		close(l.done)
		if !errors.Is(why, ErrClosed) {
			l.n.log.Error("cluster: stepping down: this node no longer leads and answers no client", "term", l.term.Term, "err", why)
		}
	})
}

// Lead blocks until this node leads: it takes the lease when it is free,
// fences the previous leader out, reads the stream up to its fence and
// activates the journal. It returns ErrClosed when the node closes and
// ctx.Err() when ctx ends; a node leads at most once.
func (n *Node) Lead(ctx context.Context) (*Leader, error) {
	for attempt := 1; ; attempt++ {
		l := &Leader{n: n, start: n.clk.Now(), holder: n.leaseValue(attempt), done: make(chan struct{})}
		l.term = term{Node: n.cfg.Node, Addr: n.cfg.Advertise}
		retry, stop := n.after(renewEvery(n.cfg.Lease))
		sent := n.clk.Now()
		cctx, cancel := context.WithTimeout(ctx, renewTimeout(n.cfg.Lease))
		rev, err := n.kv.Create(cctx, leaderKey, l.holder)
		cancel()
		if err == nil {
			l.renewed(sent, rev)
			n.log.Info("cluster: lease taken; fencing the previous leader out", "attempt", attempt)
			err = n.takeOver(ctx, l)
			if err == nil {
				stop()
				return l, nil
			}
			l.stepDown(err)
			n.log.Warn("cluster: takeover failed; following again", "err", err)
			dctx, dcancel := context.WithTimeout(context.Background(), renewTimeout(n.cfg.Lease))
			_ = n.kv.Delete(dctx, leaderKey, jetstream.LastRevision(l.rev.Load()))
			dcancel()
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Debug("cluster: lease not taken", "err", err)
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-n.ctx.Done():
			stop()
			return nil, ErrClosed
		case <-n.replica.stopped:
			stop()
			if err := n.replica.failed(); err != nil {
				return nil, err
			}
			return nil, ErrClosed
		case <-retry:
		}
	}
}

// fenceRetry is the pause, on the node's clock, before the term message
// is sent again after a refusal: the replica reads what was stored since.
const fenceRetry = 20 * time.Millisecond

// catchUpWait is how long, on the node's clock, a new leader waits for
// its replica's reader to reach the fence before reading the rest itself
// (replica.catchUp): a reader that tails the stream gets there in
// milliseconds.
const catchUpWait = 250 * time.Millisecond

// readUpTo returns once the replica has applied stream sequence seq.
func (n *Node) readUpTo(ctx context.Context, seq uint64) error {
	wctx, cancel := context.WithCancel(ctx)
	t := n.clk.AfterFunc(catchUpWait, cancel)
	err := n.replica.waitFor(wctx, seq)
	t.Stop()
	cancel()
	if err == nil || ctx.Err() != nil || wctx.Err() == nil {
		return err
	}
	n.log.Info("cluster: the replica's reader lags at takeover; reading the rest of the stream directly", "fence", seq)
	if err := n.replica.catchUp(ctx, seq); !errors.Is(err, errStale) {
		return err
	}
	return n.replica.waitFor(ctx, seq)
}

// takeOver runs steps 1–4 of doc.go's "Becoming leader" for l, whose
// lease is held; the lease keeper renews it meanwhile.
func (n *Node) takeOver(ctx context.Context, l *Leader) error {
	n.mu.Lock()
	n.leader = l
	n.mu.Unlock()
	if !n.add() {
		return ErrClosed
	}
	// The first renewal is armed here, not in the goroutine: it is due a
	// quarter lease from now whenever the goroutine runs.
	next, stop := n.after(renewEvery(n.cfg.Lease))
	go n.keepLease(l, next, stop)

	// 1. Fence: the term message, expecting the stream's last sequence
	// and the last term message read.
	began := n.clk.Now()
	for {
		if l.down.Load() {
			return fmt.Errorf("%w: the lease was lost while fencing", ErrDeposed)
		}
		prev, prevSeq := n.replica.leader()
		l.term.Term = prev.Term + 1
		cctx, cancel := context.WithTimeout(ctx, n.cfg.Lease/2)
		info, err := n.js.Stream(cctx, n.names.stream)
		var ack *jetstream.PubAck
		if err == nil {
			last := info.CachedInfo().State.LastSeq
			msg := &nats.Msg{Subject: n.names.termSubject(), Data: encodeTerm(l.term), Header: nats.Header{}}
			ack, err = n.js.PublishMsg(cctx, msg,
				jetstream.WithExpectLastSequence(last),
				jetstream.WithExpectLastSequencePerSubject(prevSeq))
		}
		cancel()
		if err == nil {
			l.seq = ack.Sequence
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.log.Debug("cluster: fence refused; reading on", "err", err)
		if !n.sleep(ctx, fenceRetry) {
			return ctx.Err()
		}
	}

	fenced := n.clk.Now()
	// 2. Read the stream up to the fence: the replica's reader, or, when
	// it has not within catchUpWait, the messages it missed directly.
	if err := n.readUpTo(ctx, l.seq); err != nil {
		return err
	}
	// 3. With the fence stored and read and nothing else in flight, move
	// the stream's Raft leadership to this node's NATS server.
	n.leadStream(ctx, n.cfg.Lease/2)
	// 4. Take the replica's jobs and activate the journal.
	l.jobs, l.next = n.replica.takeOver()
	l.term.Next = l.next
	if l.down.Load() {
		return fmt.Errorf("%w: the lease was lost while reading the stream", ErrDeposed)
	}
	n.journal.activate(l)
	if n.add() {
		go n.journal.markIDs(l)
	}
	n.log.Info("cluster: leading", "term", l.term.Term, "jobs", len(l.jobs), "next_id", l.next, "fence", l.seq,
		"fencing", fenced.Sub(began), "reading", n.clk.Now().Sub(fenced))
	return nil
}

// keepLease rewrites the lease every renewEvery(lease) on the node's
// clock, the first time when next is closed (stop stops its timer), compare-and-set on the revision last written, until the leader
// steps down. It steps down when the lease was taken by another node or
// expired. A lease that runs out while JetStream cannot take writes (an
// election after a node died takes seconds) only suspends the leader:
// Valid is false, so its connections write nothing, until a renewal at the
// same revision shows that no other node took the lease meanwhile.
func (n *Node) keepLease(l *Leader, next <-chan struct{}, stop func()) {
	defer n.wg.Done()
	for {
		select {
		case <-l.done:
			stop()
			return
		case <-n.ctx.Done():
			stop()
			l.stepDown(ErrClosed)
			return
		case <-next:
		}
		// The next renewal is due a period after this one is sent, or
		// at once if this one takes longer.
		next, stop = n.after(renewEvery(n.cfg.Lease))
		if !n.renew(l) {
			stop()
			return
		}
	}
}

// renew sends one renewal of l's lease and reports whether l still leads.
//
// A refused renewal (the key's revision is not the one l last wrote) is
// not always another node's: a renewal of l's that timed out here may
// have been stored all the same, late (a loaded machine, a JetStream
// election), and changed the revision. The key then still holds l's
// holder value, which only l writes, each write compare-and-set on the
// one before: no other node can have held the lease in between, so l
// takes the stored revision and goes on. Its validity is not extended
// (when that write was stored is not known); the next renewal extends it.
// Only a key that holds another value, or none (it expired or was
// deleted: another node may take it at once), deposes l.
func (n *Node) renew(l *Leader) bool {
	sent := n.clk.Now()
	ctx, cancel := context.WithTimeout(n.ctx, renewTimeout(n.cfg.Lease))
	defer cancel()
	rev, err := n.kv.Update(ctx, leaderKey, l.holder, l.rev.Load())
	if err == nil {
		l.renewed(sent, rev)
		return true
	}
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		n.log.Warn("cluster: cannot renew the lease", "err", err, "valid", l.Valid())
		return true
	}
	e, gerr := n.kv.Get(ctx, leaderKey)
	switch {
	case gerr == nil && bytes.Equal(e.Value(), l.holder):
		n.log.Info("cluster: a renewal that had timed out was stored late; the lease is still this node's", "revision", e.Revision())
		l.rev.Store(e.Revision())
		return true
	case gerr == nil:
		l.stepDown(fmt.Errorf("%w: the lease was taken by node %s: %w", ErrDeposed, leaseNode(e.Value()), err))
		return false
	case errors.Is(gerr, jetstream.ErrKeyNotFound), errors.Is(gerr, jetstream.ErrKeyDeleted):
		l.stepDown(fmt.Errorf("%w: the lease expired before it was renewed (no renewal stored within %v): %w", ErrDeposed, n.cfg.Lease, err))
		return false
	default:
		// Cannot tell whose the key is: try again at the next renewal.
		n.log.Warn("cluster: cannot renew the lease nor read it", "err", err, "read", gerr, "valid", l.Valid())
		return true
	}
}
