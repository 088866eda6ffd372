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

	rev        atomic.Uint64 // the lease key's revision it last wrote
	validUntil atomic.Int64  // lease valid until, in nanoseconds since start
	start      time.Time     // the monotonic origin of validUntil

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
	return !l.down.Load() && int64(time.Since(l.start)) < l.validUntil.Load()
}

// renewed notes a lease write sent at sent: the lease holds until sent
// plus the lease less an eighth (for the clocks' drift and the bucket's
// expiry, which counts from when the write was stored, later).
func (l *Leader) renewed(sent time.Time, rev uint64) {
	l.rev.Store(rev)
	lease := l.n.cfg.Lease
	l.validUntil.Store(int64(sent.Sub(l.start) + lease - lease/8))
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
	t := time.NewTicker(n.cfg.Lease / 4)
	defer t.Stop()
	for {
		l := &Leader{n: n, start: time.Now(), done: make(chan struct{})}
		l.term = term{Node: n.cfg.Node, Addr: n.cfg.Advertise}
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, n.cfg.Lease/2)
		rev, err := n.kv.Create(cctx, leaderKey, encodeTerm(l.term))
		cancel()
		if err == nil {
			l.renewed(sent, rev)
			err = n.takeOver(ctx, l)
			if err == nil {
				return l, nil
			}
			l.stepDown(err)
			n.log.Warn("cluster: takeover failed; following again", "err", err)
			dctx, dcancel := context.WithTimeout(context.Background(), n.cfg.Lease/2)
			_ = n.kv.Delete(dctx, leaderKey, jetstream.LastRevision(l.rev.Load()))
			dcancel()
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Debug("cluster: lease not taken", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.ctx.Done():
			return nil, ErrClosed
		case <-n.replica.stopped:
			if err := n.replica.failed(); err != nil {
				return nil, err
			}
			return nil, ErrClosed
		case <-t.C:
		}
	}
}

// takeOver runs steps 1–3 of doc.go's "Becoming leader" for l, whose
// lease is held; the lease keeper renews it meanwhile.
func (n *Node) takeOver(ctx context.Context, l *Leader) error {
	n.mu.Lock()
	n.leader = l
	n.mu.Unlock()
	n.wg.Add(1)
	go n.keepLease(l)

	// 1. Fence: the term message, expecting the stream's last sequence
	// and the last term message read.
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
		time.Sleep(20 * time.Millisecond)
	}

	// 2. Read the stream up to the fence.
	if err := n.replica.waitFor(ctx, l.seq); err != nil {
		return err
	}
	// 3. Take the replica's jobs and activate the journal.
	l.jobs, l.next = n.replica.takeOver()
	l.term.Next = l.next
	if l.down.Load() {
		return fmt.Errorf("%w: the lease was lost while reading the stream", ErrDeposed)
	}
	n.journal.activate(l)
	n.wg.Add(1)
	go n.journal.markIDs(l)
	n.log.Info("cluster: leading", "term", l.term.Term, "jobs", len(l.jobs), "next_id", l.next, "fence", l.seq)
	return nil
}

// keepLease rewrites the lease every quarter lease, compare-and-set on
// the revision last written, until the leader steps down. It steps down
// when the write is refused: another node took the lease. A lease that
// runs out while JetStream cannot take writes (an election after a node
// died takes seconds) only suspends the leader: Valid is false, so its
// connections write nothing, until a renewal at the same revision shows
// that no other node took the lease meanwhile.
func (n *Node) keepLease(l *Leader) {
	defer n.wg.Done()
	// The lease names the node and its address; takeOver fills in the
	// term meanwhile, so it is not read here.
	val := encodeTerm(term{Node: n.cfg.Node, Addr: n.cfg.Advertise})
	t := time.NewTicker(n.cfg.Lease / 4)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-n.ctx.Done():
			l.stepDown(ErrClosed)
			return
		case <-t.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Lease/2)
		rev, err := n.kv.Update(ctx, leaderKey, val, l.rev.Load())
		cancel()
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// A renewal that timed out may have landed after all: the
			// key then holds this node's own value at a later revision
			// (no other node writes it), which the next renewal uses.
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Lease/2)
			e, gerr := n.kv.Get(ctx, leaderKey)
			cancel()
			if gerr == nil && bytes.Equal(e.Value(), val) && e.Revision() > l.rev.Load() {
				l.rev.Store(e.Revision())
				continue
			}
		}
		switch {
		case err == nil:
			l.renewed(sent, rev)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			l.stepDown(fmt.Errorf("%w: the lease was taken by another node or expired: %w", ErrDeposed, err))
			return
		default:
			n.log.Warn("cluster: cannot renew the lease", "err", err, "valid", l.Valid())
		}
	}
}
