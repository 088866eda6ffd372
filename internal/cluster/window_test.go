package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/poll"
)

// standalone returns a publisher for l that is not l's own: the test
// drives it (push, await, settle) and it writes after the stream's last
// sequence last.
func standalone(t *testing.T, n *Node, l *Leader, last uint64) *publisher {
	t.Helper()
	p := n.journal.newPublisher(l)
	p.last = last
	sub, err := n.nc.ChanSubscribe(p.inbox+".*", p.replies)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return p
}

// await hands the publisher replies until f's latest send is answered.
func (p *publisher) await(t *testing.T, f *flight) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for f.stored == 0 && f.err == nil {
		select {
		case m := <-p.replies:
			p.answer(m)
		case <-timeout:
			t.Fatalf("no answer to the batch after %d within 30s", f.after)
		}
	}
}

// drain settles the window until it is empty, handing the publisher its
// replies.
func (p *publisher) drain(t *testing.T) {
	t.Helper()
	for {
		if err := p.settle(); err != nil {
			t.Fatalf("settle: %v", err)
		}
		if len(p.window) == 0 {
			return
		}
		p.await(t, p.window[0])
	}
}

// quiet waits until l's own publisher has stored everything queued (the
// id marker writes once when a term begins) and returns the stream's
// last sequence.
func quiet(t *testing.T, n *Node) uint64 {
	t.Helper()
	j := n.journal
	poll.Until(t, "the leader's own publisher idle", func() bool {
		return j.published.Load() > 0 && j.batched.Load() == j.published.Load()
	})
	last, _ := lastSeqs(t, n)
	return last
}

// jobBatch returns a batch putting the jobs ids.
func jobBatch(n *Node, ids ...job.ID) []*change {
	var b []*change
	for _, id := range ids {
		b = append(b, &change{subject: n.names.jobSubject(uint64(id)), data: encodeJob(testJob(id, job.Ready)), done: make(chan struct{})})
	}
	return b
}

// storedAt returns the stream's message at seq: its subject and job
// ("" if the sequence holds no message).
func storedAt(t *testing.T, n *Node, seq uint64) (string, *job.Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := n.js.Stream(ctx, n.names.stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return "", nil
	}
	jb, err := decodeJob(m.Data)
	if err != nil {
		t.Fatalf("message %d on %s: %v", seq, m.Subject, err)
	}
	return m.Subject, jb
}

// wantStream checks that the stream holds exactly the batches, in order,
// from sequence after+1 to its last.
func wantStream(t *testing.T, n *Node, after uint64, batches ...[]*change) {
	t.Helper()
	seq := after
	for _, b := range batches {
		for _, c := range b {
			seq++
			subj, jb := storedAt(t, n, seq)
			if subj != c.subject || jb == nil || n.names.jobSubject(uint64(jb.ID)) != c.subject {
				t.Fatalf("stream message %d is %q, want %q", seq, subj, c.subject)
			}
		}
	}
	if last, _ := lastSeqs(t, n); last != seq {
		t.Fatalf("the stream's last sequence is %d, want %d: a batch was stored twice or out of place", last, seq)
	}
}

// finished reports whether every change of the batches was finished
// without error.
func finished(t *testing.T, batches ...[]*change) {
	t.Helper()
	for i, b := range batches {
		for _, c := range b {
			select {
			case <-c.done:
				if c.err != nil {
					t.Fatalf("batch %d: %s: %v", i+1, c.subject, c.err)
				}
			default:
				t.Fatalf("batch %d: %s not finished", i+1, c.subject)
			}
		}
	}
}

// TestWindowPipelinesFencedBatches sends four batches at once, each
// expecting the sequence the one before it leaves and naming its own
// term filter: JetStream must store all four, in order, without waiting
// for the first's PubAck (it checks the expectation against the
// sequence it has proposed). Then it checks the resolution of a window
// whose outcomes are lost: answers lost for batches already stored (all
// acknowledged, none sent again), sends lost entirely (all sent again, in
// order), and a refused batch mid-window (the batch before it is
// acknowledged, it and the one after are sent again).
func TestWindowPipelinesFencedBatches(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := next(t, campaign(ctx, nodes))
	n := nodes[first.i]
	start := quiet(t, n)
	p := standalone(t, n, first.l, start)
	j := n.journal

	// Four at once, then their answers.
	b := [][]*change{jobBatch(n, 1, 2, 3), jobBatch(n, 4), jobBatch(n, 5, 6), jobBatch(n, 7, 8, 9, 10)}
	for _, batch := range b {
		p.push(batch)
	}
	if len(p.window) != maxWindow {
		t.Fatalf("%d batches in flight, want %d", len(p.window), maxWindow)
	}
	for i, f := range slices.Clone(p.window) {
		p.await(t, f)
		if f.err != nil || f.stored != f.end() {
			t.Fatalf("batch %d of the window: stored %d (want %d), %v", i+1, f.stored, f.end(), f.err)
		}
	}
	// Their answers lost but for the first: the resolution finds all
	// four stored.
	for _, f := range p.window[1:] {
		f.stored, f.err = 0, errNoAnswer
	}
	resolutions, resent := j.resolutions.Load(), j.resent.Load()
	p.drain(t)
	if r := j.resolutions.Load() - resolutions; r != 1 {
		t.Fatalf("%d resolutions, want 1", r)
	}
	if r := j.resent.Load() - resent; r != 0 {
		t.Fatalf("%d messages sent again, want none: they were stored", r)
	}
	finished(t, b...)
	wantStream(t, n, start, b...)

	// Three sends that never reached JetStream: all sent again, in order.
	lost := [][]*change{jobBatch(n, 11, 12), jobBatch(n, 13), jobBatch(n, 14, 15, 16)}
	for _, batch := range lost {
		f := &flight{batch: batch, after: p.last, err: errNoAnswer}
		if k := len(p.window); k > 0 {
			f.after = p.window[k-1].end()
		}
		p.window = append(p.window, f)
	}
	p.drain(t)
	if r := j.resent.Load() - resent; r != 6 {
		t.Fatalf("%d messages sent again, want 6", r)
	}
	finished(t, lost...)
	wantStream(t, n, start, append(b, lost...)...)

	// A refused batch mid-window: the second send is lost, so the third
	// (expecting the second's end) is refused; the first is stored.
	mid := [][]*change{jobBatch(n, 17), jobBatch(n, 18, 19), jobBatch(n, 20, 21)}
	p.push(mid[0])
	p.window = append(p.window, &flight{batch: mid[1], after: p.window[0].end(), err: errNoAnswer})
	p.push(mid[2])
	p.await(t, p.window[2])
	if p.window[2].err == nil {
		t.Fatalf("the batch after a lost one was stored at %d", p.window[2].stored)
	}
	p.drain(t)
	finished(t, mid...)
	wantStream(t, n, start, append(append(b, lost...), mid...)...)
	if err := first.l.Err(); err != nil {
		t.Fatalf("the leader stepped down: %v", err)
	}
}

// TestWindowExactlyOnceThroughStreamLeaderChanges has writers put jobs
// of their own, one after another, through the leader's journal while
// JetStream's stream leader is stepped down again and again: batches in
// the window are refused or unanswered and resolved from the stream.
// Afterwards every acknowledged put is in the stream exactly once (the
// stream holds no more messages after the term message than the leader
// queued) and each writer's puts are stored in the order they were
// acknowledged.
func TestWindowExactlyOnceThroughStreamLeaderChanges(t *testing.T) {
	nodes := openAll(t, withLease(testConfigs(t, 3), loadedLease))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := next(t, campaign(ctx, nodes))
	n := nodes[first.i]
	j := n.Journal()

	const writers = 16
	var (
		mu    sync.Mutex // protects order and count
		order [writers][]job.ID
		count int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := job.ID(1 + w + writers*i)
				if err := wait(j.Put(testJob(id, job.Ready))); err != nil {
					t.Errorf("writer %d, job %d: %v", w, id, err)
					return
				}
				mu.Lock()
				order[w] = append(order[w], id)
				count++
				mu.Unlock()
			}
		}()
	}
	progress := func(what string) {
		t.Helper()
		mu.Lock()
		from := count
		mu.Unlock()
		poll.Until(t, what, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return count >= from+200
		})
	}
	const maxStepdowns = 20
	resolutions := j.resolutions.Load()
	stepdowns := 0
	for i := 0; i < 3 || j.resolutions.Load() == resolutions; i++ {
		if i == maxStepdowns {
			t.Fatalf("no resolution over %d stream leader stepdowns: none hit a batch in flight", i)
		}
		stepdowns++
		progress(fmt.Sprintf("200 puts acknowledged before stepdown %d", i+1))
		stepDownStream(t, n)
	}
	progress("200 puts acknowledged after the last stepdown")
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := first.l.Err(); err != nil {
		t.Fatalf("the leader stepped down: %v", err)
	}
	if j.occupancy.Load() <= j.sends.Load() {
		t.Fatalf("no batch was sent while another was in flight (%d sends, occupancy %d)", j.sends.Load(), j.occupancy.Load())
	}
	t.Logf("%d stepdowns: %d puts acknowledged in %d batches (%d sends, mean window %.2f), %d resolutions, %d messages resent",
		stepdowns, count, j.batches.Load(), j.sends.Load(), float64(j.occupancy.Load())/float64(j.sends.Load()), j.resolutions.Load(), j.resent.Load())

	// Everything queued (the puts and the id marks) is stored once.
	poll.Until(t, "every queued change stored", func() bool { return j.batched.Load() == j.published.Load() })
	// A replica that counts the stream leaderless answers for it with
	// what it has applied (nats-server's isGroupLeaderless), which can be
	// behind what JetStream confirmed: it is read again, as the
	// publisher's resolve reads again. A batch acknowledged and lost
	// leaves the reading behind for good.
	var last, termSeq uint64
	poll.Until(t, "a reading of the stream that holds every acknowledged change", func() bool {
		last, termSeq = lastSeqs(t, n)
		return termSeq >= first.l.seq && last >= first.l.seq+j.published.Load()
	})
	if termSeq != first.l.seq {
		t.Fatalf("the term subject is at %d, want %d", termSeq, first.l.seq)
	}
	if got, want := last-first.l.seq, j.published.Load(); got != want {
		t.Fatalf("%d messages stored after the term message, want the %d queued: a batch was stored twice or lost", got, want)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	st, err := n.js.Stream(ctx2, n.names.stream)
	if err != nil {
		t.Fatal(err)
	}
	for w, ids := range order {
		var prev uint64
		for _, id := range ids {
			m, err := st.GetLastMsgForSubject(ctx2, n.names.jobSubject(uint64(id)))
			if err != nil {
				t.Fatalf("writer %d: acknowledged job %d is not in the stream: %v", w, id, err)
			}
			if jb, err := decodeJob(m.Data); err != nil || jb.ID != id {
				t.Fatalf("writer %d: job %d's message holds %v, %v", w, id, jb, err)
			}
			if m.Sequence <= prev {
				t.Fatalf("writer %d: job %d stored at %d, before the job acknowledged before it (%d)", w, id, m.Sequence, prev)
			}
			prev = m.Sequence
		}
	}
}

// stepDownStream asks JetStream to move the stream's leadership and
// waits until another server leads it.
func stepDownStream(t *testing.T, n *Node) {
	t.Helper()
	before := streamLeader(t, n)
	resp, err := n.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+n.names.stream, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("stepdown: %v", err)
	}
	var r struct {
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil || !r.Success {
		t.Fatalf("stepdown answered %s", resp.Data)
	}
	poll.Until(t, "a new stream leader", func() bool {
		l := streamLeader(t, n)
		return l != "" && l != before
	})
}
