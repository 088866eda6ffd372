package cluster

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Journal is the engine's journal in cluster mode: each change is queued
// for the leader's publisher (publisher.go), which writes the queue to
// the stream in fenced atomic batches, and its Commit completes when
// JetStream has stored the change's batch, and every batch before it, on
// a majority of the replicas. Up to four batches are in flight at once;
// while batches are in flight the next changes queue, so concurrent
// clients share the replication round trips (group commit). Before the
// node leads, and after the publisher failed, every change is refused.
type Journal struct {
	n *Node

	// mu protects everything below. It is taken inside the engine's lock
	// (Put, Update, Delete, Tick), by the id marker and by the publisher;
	// nothing is called with it held that takes another lock.
	mu     sync.Mutex
	leader *Leader
	queue  []*change     // changes not yet taken by the publisher
	wake   chan struct{} // a token when queue became non-empty
	err    error         // the first failure; sticky
	maxID  job.ID        // the highest id put
	marked job.ID        // the next id of the last id mark

	// The publisher's counters (Stats): changes queued and acknowledged,
	// batches stored and the messages in them, batch sends (first sends
	// and resends), the sum over sends of the batches in flight counting
	// the one sent (occupancy/sends is the mean window), messages sent
	// again, resolutions from the stream, and the batches in flight now.
	published, acked, batches, batched, sends, occupancy, resent, resolutions, window atomic.Uint64
}

var (
	_ journal.Journal = (*Journal)(nil)
	_ journal.Ticker  = (*Journal)(nil)
)

func newJournal(n *Node) *Journal { return &Journal{n: n, wake: make(chan struct{}, 1)} }

// change is one message for the stream and the commit that waits for it.
type change struct {
	subject   string
	data      []byte
	tombstone bool

	done chan struct{} // closed once err is set
	err  error         // nil: stored
}

func (c *change) finish(err error) {
	c.err = err
	close(c.done)
}

// activate starts publishing for l, after its term message.
func (j *Journal) activate(l *Leader) {
	j.mu.Lock()
	j.leader = l
	j.maxID = l.next - 1
	j.mu.Unlock()
	j.n.wg.Add(1)
	go j.publish(l)
}

// Put publishes the whole job on its subject.
func (j *Journal) Put(jb *job.Job) (journal.Commit, error) {
	return j.enqueue(j.n.names.jobSubject(uint64(jb.ID)), encodeJob(jb), false, jb.ID)
}

// Update publishes the whole job again, replacing its previous message.
func (j *Journal) Update(jb *job.Job) (journal.Commit, error) {
	return j.enqueue(j.n.names.jobSubject(uint64(jb.ID)), encodeJob(jb), false, jb.ID)
}

// Delete publishes the job's tombstone.
func (j *Journal) Delete(id job.ID) (journal.Commit, error) {
	return j.enqueue(j.n.names.jobSubject(uint64(id)), nil, true, id)
}

// Tick publishes the last tick of a periodic job's schedule on the
// schedule's subject (doc.go, Messages), replacing the previous tick.
func (j *Journal) Tick(schedule string, at time.Time, id job.ID) (journal.Commit, error) {
	return j.enqueue(j.n.names.tickSubject(schedule), encodeTick(tick{Schedule: schedule, At: at, ID: id}), false, 0)
}

// enqueue queues one message for the publisher. An error (not leading,
// the publisher failed) refuses the change.
func (j *Journal) enqueue(subject string, data []byte, tombstone bool, id job.ID) (journal.Commit, error) {
	c := &change{subject: subject, data: data, tombstone: tombstone, done: make(chan struct{})}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, j.err
	}
	if j.leader == nil {
		return nil, ErrNotLeader
	}
	j.queueLocked(c)
	j.maxID = max(j.maxID, id)
	return &commit{c: c, l: j.leader, j: j}, nil
}

// queueLocked appends c to the queue and wakes the publisher; the caller
// holds mu.
func (j *Journal) queueLocked(c *change) {
	j.queue = append(j.queue, c)
	j.published.Add(1)
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// fail records the first failure, makes the leader step down and refuses
// every queued change.
func (j *Journal) fail(l *Leader, err error) {
	j.mu.Lock()
	if j.err == nil {
		if !errors.Is(err, ErrDeposed) && !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("%w: %w", ErrDeposed, err)
		}
		j.err = err
	}
	err = j.err
	queued := j.queue
	j.queue = nil
	j.mu.Unlock()
	l.stepDown(err)
	for _, c := range queued {
		c.finish(err)
	}
}

// commit is one change in flight.
type commit struct {
	c *change
	l *Leader // the leader that queued it
	j *Journal
}

// Wait blocks until JetStream has stored the change on a majority of the
// replicas, or the leader stepped down: then the change may or may not
// be stored, and the leader answers no client from then on.
func (c *commit) Wait() error {
	select {
	case <-c.c.done:
	default:
		select {
		case <-c.c.done:
		case <-c.l.done:
			// Stepped down: nothing more is acknowledged, whatever
			// became of the message.
			return c.l.why
		}
	}
	if c.c.err == nil {
		c.j.acked.Add(1)
	}
	return c.c.err
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
		var c *change
		if next := j.maxID + 1; next > j.marked && j.err == nil && j.leader == l {
			c = &change{subject: j.n.names.idsSubject(), data: encodeIDs(next), done: make(chan struct{})}
			j.queueLocked(c)
			j.marked = next
		}
		j.mu.Unlock()
		if c != nil {
			select {
			case <-c.done: // a failure has made the leader step down
			case <-l.done:
				return
			}
		}
		select {
		case <-l.done:
			return
		case <-t.C:
		}
	}
}
