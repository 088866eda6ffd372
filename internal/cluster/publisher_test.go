package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/poll"
)

// acked is the model of a journal's acknowledged changes: the job as its
// last acknowledged change left it, nil once deleted.
type acked struct {
	mu   sync.Mutex // protects jobs
	jobs map[job.ID]*job.Job
	n    int
}

// churn runs w writers on j until stop is closed: each puts jobs of its
// own ids, updates and deletes them, waiting for each change as a client
// does, and records what was acknowledged. A refused change fails t.
func churn(t *testing.T, j *Journal, w int, stop <-chan struct{}, m *acked) *sync.WaitGroup {
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := job.ID(k + 1 + w*i)
				jb := testJob(id, job.Ready)
				steps := []func() error{
					func() error { return wait(j.Put(jb)) },
					func() error { jb = testJob(id, job.Buried); return wait(j.Update(jb)) },
				}
				if i%2 == 0 {
					steps = append(steps, func() error { jb = nil; return wait(j.Delete(id)) })
				}
				for _, step := range steps {
					if err := step(); err != nil {
						t.Errorf("writer %d, job %d: %v", k, id, err)
						return
					}
					m.mu.Lock()
					m.jobs[id] = jb
					m.n++
					m.mu.Unlock()
				}
			}
		}()
	}
	return &wg
}

func wait(c interface{ Wait() error }, err error) error {
	if err != nil {
		return err
	}
	return c.Wait()
}

// streamLeader returns the name of the server leading the stream's Raft
// group ("" during an election).
func streamLeader(t *testing.T, n *Node) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := n.js.Stream(ctx, n.names.stream)
	if err != nil || st.CachedInfo().Cluster == nil {
		return ""
	}
	return st.CachedInfo().Cluster.Leader
}

// allCurrent reports whether every replica of the stream is caught up.
func allCurrent(n *Node, stream string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := n.js.Stream(ctx, stream)
	if err != nil || st.CachedInfo().Cluster == nil || st.CachedInfo().Cluster.Leader == "" {
		return false
	}
	for _, p := range st.CachedInfo().Cluster.Replicas {
		if !p.Current || p.Offline {
			return false
		}
	}
	return len(st.CachedInfo().Cluster.Replicas) == n.cfg.Replicas-1
}

// TestStreamLeaderChangeMidPublish forces JetStream's stream leader to
// change (its stepdown API, then the death of the node leading the
// stream but not the cluster) while many changes are in flight: the
// leader resends what was refused or unanswered, never steps down, and
// the next leader restores exactly the acknowledged changes.
func TestStreamLeaderChangeMidPublish(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leaders := campaign(ctx, nodes)
	first := next(t, leaders)
	n := nodes[first.i]
	j := n.Journal()
	m := &acked{jobs: map[job.ID]*job.Job{}}
	stop := make(chan struct{})
	wg := churn(t, j, 16, stop, m)
	progress := func(what string) {
		t.Helper()
		m.mu.Lock()
		from := m.n
		m.mu.Unlock()
		poll.Until(t, what, func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.n >= from+200
		})
	}

	// Step the stream leader down until one stepdown has hit a batch in
	// flight (most do; a batch that lands before the stepdown does not).
	const maxStepdowns = 20
	stepdowns := 0
	for i := 0; i < 3 || j.resent.Load() == 0; i++ {
		if i == maxStepdowns {
			t.Fatalf("no change was resent over %d stream leader stepdowns: none hit a batch in flight", i)
		}
		stepdowns++
		progress(fmt.Sprintf("200 changes acknowledged before stepdown %d", i+1))
		before := streamLeader(t, n)
		resp, err := n.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+n.names.stream, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("stepdown %d: %v", i+1, err)
		}
		var r struct {
			Success bool `json:"success"`
			Error   any  `json:"error"`
		}
		if err := json.Unmarshal(resp.Data, &r); err != nil || !r.Success {
			t.Fatalf("stepdown %d answered %s", i+1, resp.Data)
		}
		poll.Until(t, "a new stream leader", func() bool {
			l := streamLeader(t, n)
			return l != "" && l != before
		})
	}
	// Now the death of the node leading the stream but not the cluster.
	victim := -1
	poll.Until(t, "a stream leader other than the cluster's leader", func() bool {
		sl := streamLeader(t, n)
		for i, o := range nodes {
			if i != first.i && o.cfg.Node == sl {
				victim = i
				return true
			}
		}
		if sl == n.cfg.Node {
			_, _ = n.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+n.names.stream, nil, 5*time.Second)
		}
		return false
	})
	progress("200 changes acknowledged before the stream leader's death")
	crash(nodes[victim])
	progress("200 changes acknowledged after the stream leader's death")
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := first.l.Err(); err != nil {
		t.Fatalf("the leader stepped down: %v", err)
	}
	t.Logf("%d stepdowns and a stream leader's death: %d changes acknowledged in %d batches, %d resent", stepdowns, m.n, j.batches.Load(), j.resent.Load())

	// The last node takes over once the leader dies: it must restore
	// exactly the acknowledged jobs. Restart the dead one for a majority.
	cfg := nodes[victim].cfg
	var err error
	poll.Until(t, "the dead node reopened", func() bool {
		nodes[victim], err = Open(cfg)
		return err == nil
	})
	t.Cleanup(func() { nodes[victim].Close() })
	poll.Until(t, "every replica of the stream and the lease bucket current", func() bool {
		return allCurrent(n, n.names.stream) && allCurrent(n, "KV_"+n.names.bucket)
	})
	crash(n)
	// The third node campaigns since the start.
	third := next(t, leaders)
	if third.i == first.i || third.i == victim {
		t.Fatalf("node %d took over; want the third node", third.i+1)
	}
	l := third.l
	jobs, _ := l.Restored()
	got := map[job.ID]*job.Job{}
	for _, jb := range jobs {
		got[jb.ID] = jb
	}
	for id, want := range m.jobs {
		if want == nil {
			if g := got[id]; g != nil {
				t.Fatalf("job %d was deleted (acknowledged) but is restored", id)
			}
			continue
		}
		if g := got[id]; !reflect.DeepEqual(g, want) {
			t.Fatalf("job %d restored as %+v, want %+v", id, g, want)
		}
		delete(got, id)
	}
	if len(got) != 0 {
		t.Fatalf("%d jobs restored that were never acknowledged", len(got))
	}
}

// TestOldLeaderBatchFencedByNewTerm writes another node's term message
// while a leader leads, then has the old leader send a batch expecting
// exactly the stream's new last sequence (the one expectation a bare
// last-sequence fence would let through): JetStream must refuse it on
// the term expectation, the resolution must find another writer, and
// the old leader must step down having stored nothing.
func TestOldLeaderBatchFencedByNewTerm(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := next(t, campaign(ctx, nodes))
	n := nodes[first.i]
	j := n.Journal()
	write(t, j, func(put func(*job.Job), _ func(*job.Job), _ func(job.ID)) {
		for id := job.ID(1); id <= 10; id++ {
			put(testJob(id, job.Ready))
		}
	})
	// Another node's term message, as a takeover writes it (the id
	// marker may write meanwhile: read the last sequence again).
	other := nodes[(first.i+1)%3]
	var ack *jetstream.PubAck
	poll.Until(t, "the other node's term message stored", func() bool {
		last, termSeq := lastSeqs(t, other)
		if termSeq != first.l.seq {
			t.Fatalf("the term subject is at %d, want the leader's term message at %d", termSeq, first.l.seq)
		}
		msg := &nats.Msg{Subject: other.names.termSubject(), Data: encodeTerm(term{Term: 2, Node: other.cfg.Node}), Header: nats.Header{}}
		var err error
		ack, err = other.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequence(last))
		return err == nil
	})

	// Each of the four term filters fences: a batch expecting the new
	// term message's sequence is refused whichever filter it names.
	p := standalone(t, n, first.l, ack.Sequence)
	for i := range maxWindow {
		p.sends = uint64(i)
		id := job.ID(11 + i)
		p.push([]*change{
			{subject: n.names.jobSubject(uint64(id)), data: encodeJob(testJob(id, job.Ready)), done: make(chan struct{})},
			{subject: n.names.jobSubject(uint64(id) + 100), data: encodeJob(testJob(id+100, job.Ready)), done: make(chan struct{})},
		})
		f := p.window[len(p.window)-1]
		p.await(t, f)
		if f.err == nil {
			t.Fatalf("the old leader's batch naming term filter %q after a new term message was stored at %d", p.filters[i], f.stored)
		}
		p.window = p.window[:0]
	}
	last := &change{subject: n.names.jobSubject(20), data: encodeJob(testJob(20, job.Ready)), done: make(chan struct{})}
	p.push([]*change{last})
	p.await(t, p.window[0])
	if err := p.settle(); !errors.Is(err, ErrDeposed) || !strings.Contains(err.Error(), "another node leads") {
		t.Fatalf("settle = %v; want ErrDeposed: another node leads", err)
	}
	select {
	case <-last.done:
		t.Fatalf("a change was finished (%v) after another node's term message", last.err)
	default:
	}
	if l, _ := lastSeqs(t, other); l != ack.Sequence {
		t.Fatalf("the stream's last sequence is %d after the refused batches, want %d", l, ack.Sequence)
	}

	// Through the journal: the next change (or the id marker's) finds
	// the fence and the leader steps down without acknowledging it.
	if err := wait(j.Put(testJob(13, job.Ready))); !errors.Is(err, ErrDeposed) {
		t.Fatalf("a change after another node's term = %v; want ErrDeposed", err)
	}
	poll.Until(t, "the old leader steps down", func() bool { return first.l.Err() != nil })
	if _, err := j.Put(testJob(14, job.Ready)); !errors.Is(err, ErrDeposed) {
		t.Fatalf("a change after stepping down = %v; want ErrDeposed", err)
	}
}

// lastSeqs returns the stream's last sequence and its term subject's.
func lastSeqs(t *testing.T, n *Node) (last, term uint64) {
	t.Helper()
	p := &publisher{j: n.journal}
	last, term, err := p.read()
	if err != nil {
		t.Fatal(err)
	}
	return last, term
}
