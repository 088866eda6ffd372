package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/job"
)

// opHeader marks a tombstone (doc.go, Messages).
const (
	opHeader = "Reprieve-Op"
	opDelete = "delete"
)

// replica is a follower's copy of the stream: every live job, the latest
// term and the highest id, applied in stream order by one reader
// goroutine (run) until the node leads or closes.
type replica struct {
	n *Node

	// mu protects everything below.
	mu      sync.Mutex
	jobs    map[job.ID]*job.Job
	ticks   map[string]time.Time // the last tick of each schedule
	term    term
	termSeq uint64 // the stream sequence of term's message; 0: none read
	maxID   job.ID // the highest id of a job, tombstone or id mark seen
	applied uint64 // the stream sequence of the last message applied
	// caughtUp is when the replica last had read everything stored; a
	// message read more than half a tombstone TTL later may follow a
	// tombstone that expired unread (doc.go, Followers).
	caughtUp time.Time
	resyncs  int
	tail1    string        // the latest tail consumer's name
	tails    int           // tail consumers used so far
	err      error         // a message that cannot be applied; the reader stopped
	advanced chan struct{} // closed and replaced whenever applied or term changes
	termed   chan struct{} // closed and replaced whenever term changes
	stopped  chan struct{} // closed when run returns
	stop     context.CancelFunc
	ctx      context.Context
}

func newReplica(n *Node) *replica {
	r := &replica{n: n, advanced: make(chan struct{}), termed: make(chan struct{}), stopped: make(chan struct{})}
	r.ctx, r.stop = context.WithCancel(n.ctx)
	r.reset()
	return r
}

// reset forgets everything read; the caller holds mu (or owns r alone).
func (r *replica) reset() {
	r.jobs = make(map[job.ID]*job.Job)
	r.ticks = make(map[string]time.Time)
	r.setTerm(term{}, 0)
	r.maxID = 0
	r.applied = 0
	r.caughtUp = r.n.clk.Now()
}

// run reads the stream from its start until the node leads or closes,
// starting over when the replica may have missed a tombstone. It is
// started by Open and counted in the node's wait group.
func (r *replica) run() {
	defer r.n.wg.Done()
	defer close(r.stopped)
	for r.ctx.Err() == nil {
		err := r.read()
		if r.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrCorrupt) {
			r.mu.Lock()
			r.err = err
			r.notify()
			r.mu.Unlock()
			r.n.log.Error("cluster: the stream holds a message this node cannot read; it will not take over", "err", err)
			return
		}
		r.n.log.Debug("cluster: re-reading the stream", "why", err)
		r.n.sleep(r.ctx, rereadPause)
	}
}

// rereadPause is the pause, on the node's clock, before the replica reads
// the stream again after its consumer failed or it fell behind.
const rereadPause = 100 * time.Millisecond

// errStale: the replica must be read again from the start.
var errStale = errors.New("cluster: replica fell behind a tombstone's lifetime")

// errGap: the tail's consumer skipped a delivery; a new one resumes.
var errGap = errors.New("cluster: the tail's consumer skipped a delivery")

// read tails the stream from its start, through one consumer after
// another (tail), each resuming after the last message applied, as an
// ordered consumer resumes. It returns errStale when the replica must
// start over, ErrCorrupt for a message it cannot apply, and when r stops.
func (r *replica) read() error {
	r.mu.Lock()
	r.reset()
	r.notify()
	r.mu.Unlock()
	for {
		cons, err := r.tail()
		if err == nil {
			err = r.consume(cons)
			r.drop(cons)
		}
		if r.ctx.Err() != nil || errors.Is(err, ErrCorrupt) || errors.Is(err, errStale) {
			return err
		}
		r.n.log.Debug("cluster: resuming the stream's tail", "why", err)
		if !errors.Is(err, errGap) {
			r.n.sleep(r.ctx, rereadPause)
		}
		r.mu.Lock()
		stale := r.n.clk.Now().Sub(r.caughtUp) > r.n.cfg.TombstoneTTL/2
		if stale {
			r.resyncs++
		}
		r.mu.Unlock()
		if stale {
			return errStale
		}
	}
}

// tailTries is how many consumers tail creates, at most, to get one on
// the node's own NATS server.
const tailTries = 16

// tail creates the consumer that delivers the stream from the message
// after the last one applied: ephemeral, in memory, one replica, no
// acknowledgements (as an ordered consumer's). JetStream places a
// one-replica consumer of a replicated stream on a replica it picks at
// random, so most deliveries would cross a route between NATS servers;
// tail deletes a consumer placed elsewhere and asks again, up to
// tailTries times, so that the node reads its own server's copy (doc.go,
// Followers). A NATS that keeps placing it elsewhere (an external one
// whose stream has no replica on the server the node is connected to)
// gets the last consumer created.
func (r *replica) tail() (jetstream.Consumer, error) {
	r.mu.Lock()
	from := r.applied + 1
	r.mu.Unlock()
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 5 * time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	}
	me := r.n.nc.ConnectedServerName()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.n.cfg.Lease)
		cons, err := r.n.js.CreateConsumer(ctx, r.n.names.stream, cfg)
		cancel()
		if err != nil {
			return nil, err
		}
		at := tailServer(cons)
		if at == "" || at == me || me == "" || try == tailTries {
			r.mu.Lock()
			r.tail1, r.tails = cons.CachedInfo().Name, r.tails+1
			r.mu.Unlock()
			return cons, nil
		}
		r.drop(cons)
	}
}

// tailServer returns the NATS server that holds cons: its one replica's
// Raft leader; "" on a standalone server.
func tailServer(cons jetstream.Consumer) string {
	if c := cons.CachedInfo().Cluster; c != nil {
		return c.Leader
	}
	return ""
}

// drop deletes cons, if it can; JetStream removes one left behind after
// its inactivity threshold. Once r has stopped (the node takes over or
// closes) it deletes in the background, counted in the node's wait
// group, so a takeover does not wait for it; the caller runs in run.
func (r *replica) drop(cons jetstream.Consumer) {
	del := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.n.cfg.Lease)
		defer cancel()
		_ = r.n.js.DeleteConsumer(ctx, r.n.names.stream, cons.CachedInfo().Name)
	}
	if r.ctx.Err() == nil {
		del()
		return
	}
	r.n.wg.Add(1)
	go func() {
		defer r.n.wg.Done()
		del()
	}()
}

// consume applies what cons delivers until it fails: errGap when a
// delivery was skipped (each must follow the one before it), an error
// from the consumer (gone, or two heartbeats missed), errStale, or a
// message that cannot be applied.
func (r *replica) consume(cons jetstream.Consumer) error {
	msgs, err := cons.Messages(jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return err
	}
	defer msgs.Stop()
	// The checker confirms, every quarter lease, that everything stored
	// was read, so an idle stream does not age the replica.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.check(cons, msgs, done)
	}()
	defer func() { close(done); wg.Wait() }()
	half := r.n.cfg.TombstoneTTL / 2
	var delivered uint64
	for {
		m, err := msgs.Next()
		if err != nil {
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Consumer != delivered+1 {
			return fmt.Errorf("%w: delivery %d after %d", errGap, meta.Sequence.Consumer, delivered)
		}
		delivered++
		now := r.n.clk.Now()
		r.mu.Lock()
		if now.Sub(r.caughtUp) > half {
			r.resyncs++
			r.mu.Unlock()
			return errStale
		}
		if meta.Sequence.Stream <= r.applied {
			r.mu.Unlock()
			return fmt.Errorf("%w: stream sequence %d after %d", errGap, meta.Sequence.Stream, r.applied)
		}
		err = r.apply(m.Subject(), m.Headers().Get(opHeader), m.Data(), meta.Sequence.Stream)
		if err == nil && meta.NumPending == 0 {
			r.caughtUp = now
		}
		r.notify()
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("stream sequence %d, subject %s: %w", meta.Sequence.Stream, m.Subject(), err)
		}
	}
}

// check marks the replica caught up, every quarter lease of the node's
// clock, whenever the consumer has nothing pending and every message it
// delivered was applied; it stops msgs when the replica stops.
func (r *replica) check(cons jetstream.Consumer, msgs jetstream.MessagesContext, done <-chan struct{}) {
	next, stop := r.n.after(r.n.cfg.Lease / 4)
	defer func() { stop() }()
	for {
		select {
		case <-done:
			return
		case <-r.ctx.Done():
			msgs.Stop()
			return
		case <-next:
		}
		next, stop = r.n.after(r.n.cfg.Lease / 4)
		at := r.n.clk.Now()
		ctx, cancel := context.WithTimeout(r.ctx, r.n.cfg.Lease/2)
		info, err := cons.Info(ctx)
		cancel()
		if err != nil {
			continue
		}
		r.mu.Lock()
		if info.NumPending == 0 && r.applied >= info.Delivered.Stream {
			r.caughtUp = at
		}
		r.mu.Unlock()
	}
}

// apply applies one message; the caller holds mu.
func (r *replica) apply(subject, op string, data []byte, seq uint64) error {
	rest, ok := strings.CutPrefix(subject, r.n.names.prefix)
	if !ok {
		return fmt.Errorf("%w: subject outside the cluster's", ErrCorrupt)
	}
	switch {
	case strings.HasPrefix(rest, "job."):
		v, err := strconv.ParseUint(rest[len("job."):], 10, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("%w: bad job subject", ErrCorrupt)
		}
		id := job.ID(v)
		r.maxID = max(r.maxID, id)
		if op == opDelete {
			delete(r.jobs, id)
			break
		}
		j, err := decodeJob(data)
		if err != nil {
			return err
		}
		if j.ID != id {
			return fmt.Errorf("%w: job %d on the subject of job %d", ErrCorrupt, j.ID, id)
		}
		r.jobs[id] = j
	case rest == "term":
		t, err := decodeTerm(data)
		if err != nil {
			return err
		}
		r.setTerm(t, seq)
		if t.Next > 0 {
			r.maxID = max(r.maxID, t.Next-1)
		}
	case strings.HasPrefix(rest, "tick."):
		t, err := decodeTick(data)
		if err != nil {
			return err
		}
		r.ticks[t.Schedule] = t.At
		r.maxID = max(r.maxID, t.ID)
	case rest == "ids":
		next, err := decodeIDs(data)
		if err != nil {
			return err
		}
		if next > 0 {
			r.maxID = max(r.maxID, next-1)
		}
	default:
		return fmt.Errorf("%w: unknown subject", ErrCorrupt)
	}
	r.applied = seq
	return nil
}

// notify wakes waiters of advanced; the caller holds mu.
func (r *replica) notify() {
	close(r.advanced)
	r.advanced = make(chan struct{})
}

// waitFor blocks until the replica has applied stream sequence seq, the
// reader failed, or ctx ends.
func (r *replica) waitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		applied, err, ch := r.applied, r.err, r.advanced
		r.mu.Unlock()
		if err != nil {
			return err
		}
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-r.stopped:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("%w: read the stream up to sequence %d (at %d): %w", ErrUnavailable, seq, applied, ctx.Err())
		}
	}
}

// setTerm records the latest term read and wakes the waiters of
// termChanged; the caller holds mu (or owns r alone).
func (r *replica) setTerm(t term, seq uint64) {
	r.term, r.termSeq = t, seq
	close(r.termed)
	r.termed = make(chan struct{})
}

// termChanged returns a channel closed when the replica next records a
// term (a term message read, or none when it reads the stream again).
func (r *replica) termChanged() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.termed
}

// catchUp stops the reader and applies, read one by one by sequence, the
// messages it has not applied up to stream sequence upTo. A new leader
// calls it when the reader lags at takeover: its consumer can learn
// of a stream leader change only after two missed heartbeats (10s with
// the client's default) and then backs off while JetStream elects; the
// messages themselves can be read as soon as the fence was stored. A
// message no longer in the stream was superseded on its subject (the
// stream keeps one per subject) or was a tombstone that expired, which
// the replica must not miss: a replica that has not been caught up for
// half a tombstone lifetime waits for its reader instead (errStale).
func (r *replica) catchUp(ctx context.Context, upTo uint64) error {
	r.mu.Lock()
	stale := r.n.clk.Now().Sub(r.caughtUp) > r.n.cfg.TombstoneTTL/2
	r.mu.Unlock()
	if stale {
		return errStale
	}
	r.stop()
	<-r.stopped
	st, err := r.n.js.Stream(ctx, r.n.names.stream)
	if err != nil {
		return fmt.Errorf("%w: read the stream up to sequence %d: %w", ErrUnavailable, upTo, err)
	}
	r.mu.Lock()
	from, rerr := r.applied+1, r.err
	r.mu.Unlock()
	if rerr != nil {
		return rerr
	}
	for seq := from; seq <= upTo; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: read stream sequence %d: %w", ErrUnavailable, seq, err)
		}
		r.mu.Lock()
		err = r.apply(m.Subject, m.Header.Get(opHeader), m.Data, seq)
		r.notify()
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("stream sequence %d, subject %s: %w", seq, m.Subject, err)
		}
	}
	return nil
}

// failed returns the error that stopped the reader, if any.
func (r *replica) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// leader returns the latest term read (who leads, where to reach it)
// and its message's stream sequence (0: none read).
func (r *replica) leader() (term, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.term, r.termSeq
}

// takeOver stops the reader and returns the jobs in id order and the
// next id to hand out. The replica is unusable afterwards.
func (r *replica) takeOver() ([]*job.Job, job.ID) {
	r.stop()
	<-r.stopped
	r.mu.Lock()
	defer r.mu.Unlock()
	jobs := make([]*job.Job, 0, len(r.jobs))
	for _, j := range r.jobs {
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b *job.Job) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	r.jobs = nil
	return jobs, r.maxID + 1
}

// Ticks returns the last tick of each periodic job's schedule as the
// stream kept it when l took over (doc.go, Messages); hand them to the
// engine's RestoreTicks after Restore. The map belongs to the caller.
func (l *Leader) Ticks() map[string]time.Time {
	r := l.n.replica
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.ticks)
}
