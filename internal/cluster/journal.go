package cluster

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Journal is the engine's journal in cluster mode: each change is
// published to the stream, fenced by the sequence the leader expects,
// and its Commit completes when JetStream acknowledges it (a majority of
// the replicas have it). Publishes are asynchronous: while one waits for
// its acknowledgement the next ones are already sent, so concurrent
// clients share the replication round trips (group commit). Before the
// node leads, and after a publish failed, every change is refused.
type Journal struct {
	n *Node

	// mu protects everything below. It is taken inside the engine's lock
	// (Put, Update, Delete) and by the id marker; nothing is called with
	// it held that takes another lock of this package.
	mu     sync.Mutex
	leader *Leader
	expect uint64 // the stream's last sequence the next publish expects
	err    error  // the first failure; sticky
	maxID  job.ID // the highest id put
	marked job.ID // the next id of the last id mark

	published, acked atomic.Uint64
}

var _ journal.Journal = (*Journal)(nil)

func newJournal(n *Node) *Journal { return &Journal{n: n} }

// activate starts publishing for l, after its term message.
func (j *Journal) activate(l *Leader) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.leader = l
	j.expect = l.seq
	j.maxID = l.next - 1
}

// Put publishes the whole job on its subject.
func (j *Journal) Put(jb *job.Job) (journal.Commit, error) {
	return j.publish(j.n.names.jobSubject(uint64(jb.ID)), encodeJob(jb), false, jb.ID)
}

// Update publishes the whole job again, replacing its previous message.
func (j *Journal) Update(jb *job.Job) (journal.Commit, error) {
	return j.publish(j.n.names.jobSubject(uint64(jb.ID)), encodeJob(jb), false, jb.ID)
}

// Delete publishes the job's tombstone.
func (j *Journal) Delete(id job.ID) (journal.Commit, error) {
	return j.publish(j.n.names.jobSubject(uint64(id)), nil, true, id)
}

// publish sends one message expecting the next sequence of the leader's
// chain. An error (not leading, stepped down, the connection refused the
// message) refuses the change.
func (j *Journal) publish(subject string, data []byte, tombstone bool, id job.ID) (journal.Commit, error) {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	var ttl time.Duration
	if tombstone {
		msg.Header.Set(opHeader, opDelete)
		ttl = j.n.cfg.TombstoneTTL
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, j.err
	}
	if j.leader == nil {
		return nil, ErrNotLeader
	}
	c, err := j.sendLocked(msg, ttl)
	if err == nil {
		j.maxID = max(j.maxID, id)
	}
	return c, err
}

// sendLocked publishes msg (with a TTL if ttl > 0) expecting the chain's
// next sequence; the caller holds mu and has checked that j leads.
func (j *Journal) sendLocked(msg *nats.Msg, ttl time.Duration) (journal.Commit, error) {
	// While JetStream elects a stream leader a publish finds no
	// responder; it is retried, in the order sent, for up to ten seconds.
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequence(j.expect), jetstream.WithStallWait(j.n.cfg.Lease),
		jetstream.WithRetryAttempts(40), jetstream.WithRetryWait(250 * time.Millisecond)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	fut, err := j.n.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		j.failLocked(fmt.Errorf("publish %s: %w", msg.Subject, err))
		return nil, j.err
	}
	j.expect++
	j.published.Add(1)
	return &commit{j: j, l: j.leader, fut: fut, seq: j.expect}, nil
}

// failLocked records the first failure and makes the leader step down;
// the caller holds mu.
func (j *Journal) failLocked(err error) {
	if j.err == nil {
		j.err = fmt.Errorf("%w: %w", ErrDeposed, err)
	}
	if j.leader != nil {
		j.leader.stepDown(j.err)
	}
}

func (j *Journal) fail(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failLocked(err)
}

// commit is one publish in flight.
type commit struct {
	j   *Journal
	l   *Leader // the leader that published it
	fut jetstream.PubAckFuture
	seq uint64 // the sequence the message must get

	once sync.Once
	err  error
}

// Wait blocks until JetStream acknowledged the message (it is on a
// majority of the replicas) or refused it, or the leader stepped down; a
// refusal makes the leader step down, and the leader answers no client
// from then on.
func (c *commit) Wait() error {
	c.once.Do(func() {
		select {
		case ack := <-c.fut.Ok():
			if ack.Sequence != c.seq {
				c.err = fmt.Errorf("%w: message stored at sequence %d, expected %d", ErrDeposed, ack.Sequence, c.seq)
				c.j.fail(c.err)
				return
			}
			c.j.acked.Add(1)
		case err := <-c.fut.Err():
			c.err = fmt.Errorf("%w: sequence %d: %w", ErrDeposed, c.seq, err)
			c.j.fail(c.err)
		case <-c.l.done:
			// Stepped down: nothing more is acknowledged, whatever
			// became of the message.
			c.err = c.l.why
		}
	})
	return c.err
}

// markIDs publishes an id mark, at most once a second, whenever a put
// raised the highest id past the last mark (doc.go, Messages). It runs
// while l leads and is counted in the node's wait group.
func (j *Journal) markIDs(l *Leader) {
	defer j.n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		j.mu.Lock()
		var c journal.Commit
		var err error
		if next := j.maxID + 1; next > j.marked && j.err == nil {
			msg := &nats.Msg{Subject: j.n.names.idsSubject(), Data: encodeIDs(next), Header: nats.Header{}}
			c, err = j.sendLocked(msg, 0)
			if err == nil {
				j.marked = next
			}
		}
		j.mu.Unlock()
		if c != nil {
			_ = c.Wait() // a failure has made the leader step down
		}
		select {
		case <-l.done:
			return
		case <-t.C:
		}
	}
}
