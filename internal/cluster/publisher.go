package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The publisher writes the journal's queue to the stream as fenced atomic
// batches, up to maxWindow of them in flight, each expecting the last
// sequence the one before it leaves. It acknowledges batches in order,
// and resolves a batch whose outcome it does not know, with every later
// one in the window, from the stream (doc.go, Publishing).

// Headers of JetStream's publish protocol.
const (
	hdrBatchID        = "Nats-Batch-Id"
	hdrBatchSeq       = "Nats-Batch-Sequence"
	hdrBatchCommit    = "Nats-Batch-Commit"
	hdrExpectLast     = "Nats-Expected-Last-Sequence"
	hdrExpectSubjLast = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectSubj     = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrTTL            = "Nats-TTL"
)

// Limits of one batch: JetStream refuses atomic batches of more than
// 1,000 messages; a batch stays well under the 1 MiB default payload.
const (
	maxBatchMsgs  = 500
	maxBatchBytes = 1 << 20
)

// maxWindow is the most batches in flight at once. It is at most the
// number of term filters (termFilters): JetStream refuses a publish
// whose last-subject-sequence expectation names a filter that a publish
// it has not applied yet also names, so the batches in flight need
// distinct ones.
const maxWindow = 4

// Waits of the publisher: a batch unanswered after batchWait is resolved
// from the stream's state; a resolution that cannot read the stream (an
// election), or reads it behind what it confirmed, tries again after
// resolveRetry, the latter for at most staleWait.
const (
	batchWait    = 5 * time.Second
	resolveRetry = 100 * time.Millisecond
	staleWait    = 10 * time.Second
)

// termFilters returns the four subject filters that match the term
// subject reprieve.C.term and no other subject of the stream (whose
// subjects are reprieve.C.>): the subject itself and its forms with '*'
// for the first token, the second, or both.
func termFilters(nm names) [maxWindow]string {
	tokens := strings.SplitN(nm.termSubject(), ".", 3)
	return [maxWindow]string{
		nm.termSubject(),
		tokens[0] + ".*." + tokens[2],
		"*." + tokens[1] + "." + tokens[2],
		"*.*." + tokens[2],
	}
}

// flight is one batch the publisher has sent and not yet acknowledged.
type flight struct {
	batch   []*change
	after   uint64    // the stream's last sequence it expects: where the batch before it ends
	attempt uint64    // numbers its latest send's reply subject
	sent    time.Time // when its latest send went out
	stored  uint64    // the sequence its latest send's PubAck gave; 0 until then
	err     error     // why its latest send was not confirmed; nil until then
}

// end is the stream's last sequence once the batch is stored.
func (f *flight) end() uint64 { return f.after + uint64(len(f.batch)) }

// publisher is the state of one leader's publishing goroutine.
type publisher struct {
	j       *Journal
	l       *Leader
	last    uint64 // the stream's last sequence: the end of the last acknowledged batch (at first the term message)
	window  []*flight
	filters [maxWindow]string
	inbox   string
	replies chan *nats.Msg
	attempt uint64 // numbers the reply subjects, so a late reply is known
	sends   uint64 // counts sends; picks each send's term filter
}

func (j *Journal) newPublisher(l *Leader) *publisher {
	return &publisher{j: j, l: l, last: l.seq, filters: termFilters(j.n.names), inbox: j.n.nc.NewInbox(), replies: make(chan *nats.Msg, 64)}
}

// publish runs while l leads: it takes the queued changes, sends them as
// batches while the window has room, and finishes each batch once it and
// every batch before it are stored. A batch that cannot be written (the
// stream shows another writer, or l stepped down) makes l step down. It
// is started by activate and counted in the node's wait group.
func (j *Journal) publish(l *Leader) {
	defer j.n.wg.Done()
	p := j.newPublisher(l)
	sub, err := j.n.nc.ChanSubscribe(p.inbox+".*", p.replies)
	if err != nil {
		j.fail(l, fmt.Errorf("publisher: subscribe to replies: %w", err))
		return
	}
	defer sub.Unsubscribe()
	if err := p.run(); err != nil {
		for _, f := range p.window {
			for _, c := range f.batch {
				c.finish(err)
			}
		}
		j.window.Store(0)
		j.fail(l, err)
	}
}

// run sends, acknowledges and resolves until the leader steps down or a
// batch cannot be written.
func (p *publisher) run() error {
	j := p.j
	for {
		// Settle first: acknowledging makes room, and lowers what the
		// next batch needs (least), for changes whose wake was taken.
		if err := p.settle(); err != nil {
			return err
		}
		for len(p.window) < maxWindow {
			batch := j.take(p.least())
			if batch == nil {
				break
			}
			p.push(batch)
		}
		if len(p.window) > 0 && p.window[0].err != nil {
			continue // its send failed at once
		}
		var timeout <-chan time.Time
		stop := func() bool { return false }
		if len(p.window) > 0 {
			t := time.NewTimer(time.Until(p.window[0].sent.Add(batchWait)))
			timeout, stop = t.C, t.Stop
		}
		wake := j.wake
		if len(p.window) == maxWindow {
			wake = nil // the next changes wait for room
		}
		select {
		case m := <-p.replies:
			p.answer(m)
		case <-wake:
		case <-timeout:
			if f := p.window[0]; f.stored == 0 && f.err == nil && time.Since(f.sent) >= batchWait {
				f.err = errNoAnswer
			}
		case <-p.l.done:
			stop()
			return p.l.why
		}
		stop()
	}
}

// least returns how many changes must be queued for the next batch to
// be sent now: any while no batch is in flight; while some are, as many
// as the last batch sent holds, so that on a busy leader the window adds
// batches of the size one round trip gathers rather than many small ones
// (each batch costs JetStream about as much as a message).
func (p *publisher) least() int {
	if len(p.window) == 0 {
		return 1
	}
	return len(p.window[len(p.window)-1].batch)
}

// take returns the first queued changes up to a batch's limits; nil if
// fewer than least are queued.
func (j *Journal) take(least int) []*change {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := len(j.queue)
	if n == 0 || n < min(least, maxBatchMsgs) {
		return nil
	}
	size, k := 0, 0
	for k < n && k < maxBatchMsgs && (k == 0 || size+len(j.queue[k].data) <= maxBatchBytes) {
		size += len(j.queue[k].data)
		k++
	}
	batch := j.queue[:k:k]
	j.queue = j.queue[k:]
	if len(j.queue) == 0 {
		j.queue = nil
	}
	return batch
}

// push sends batch right after the last batch in the window.
func (p *publisher) push(batch []*change) {
	after := p.last
	if n := len(p.window); n > 0 {
		after = p.window[n-1].end()
	}
	f := &flight{batch: batch, after: after}
	p.window = append(p.window, f)
	p.j.window.Store(uint64(len(p.window)))
	p.send(f, len(p.window))
}

// send publishes f's batch once, under a new batch id and reply subject,
// expecting the stream's last sequence f.after and the term subject's
// last sequence the leader's term message; its answer comes to
// p.replies. The batch is the inFlight-th of the window.
func (p *publisher) send(f *flight, inFlight int) {
	nc := p.j.n.nc
	p.attempt++
	f.attempt, f.sent, f.stored, f.err = p.attempt, time.Now(), 0, nil
	reply := p.inbox + "." + strconv.FormatUint(p.attempt, 10)
	filter := p.filters[p.sends%maxWindow]
	p.sends++
	p.j.sends.Add(1)
	p.j.occupancy.Add(uint64(inFlight))
	id := batchID()
	for i, c := range f.batch {
		m := &nats.Msg{Subject: c.subject, Data: c.data, Header: nats.Header{}}
		if c.tombstone {
			m.Header.Set(opHeader, opDelete)
			m.Header.Set(hdrTTL, p.j.n.cfg.TombstoneTTL.String())
		}
		if i == 0 {
			m.Header.Set(hdrExpectLast, strconv.FormatUint(f.after, 10))
			m.Header.Set(hdrExpectSubjLast, strconv.FormatUint(p.l.seq, 10))
			m.Header.Set(hdrExpectSubj, filter)
		}
		if len(f.batch) > 1 {
			// A single message needs no batch: it is atomic by itself.
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i == len(f.batch)-1 {
			if len(f.batch) > 1 {
				m.Header.Set(hdrBatchCommit, "1")
			}
			m.Reply = reply
		}
		if err := nc.PublishMsg(m); err != nil {
			f.err = err
			return
		}
	}
}

// answer records a reply for the flight whose latest send it answers;
// the late answer to an earlier send is dropped.
func (p *publisher) answer(m *nats.Msg) {
	attempt, err := strconv.ParseUint(m.Subject[len(p.inbox)+1:], 10, 64)
	if err != nil {
		return
	}
	for _, f := range p.window {
		if f.attempt == attempt {
			f.stored, f.err = parseAck(m)
			return
		}
	}
}

// settle acknowledges, in order, every batch up to the last one JetStream
// confirmed (a batch is stored only right after the one before it), and
// resolves the window from the stream when its first batch failed.
func (p *publisher) settle() error {
	k := -1
	for i, f := range p.window {
		if f.stored == 0 {
			continue
		}
		if f.stored != f.end() {
			return fmt.Errorf("%w: batch stored up to sequence %d, expected %d", ErrDeposed, f.stored, f.end())
		}
		k = i
	}
	p.ack(k + 1)
	for len(p.window) > 0 && p.window[0].err != nil {
		if p.l.down.Load() {
			return p.l.why
		}
		p.j.n.log.Debug("cluster: batch not confirmed; reading the stream", "after", p.last, "batches", len(p.window), "err", p.window[0].err)
		stored, err := p.resolve()
		if err != nil {
			return err
		}
		p.ack(stored)
		for i, f := range p.window {
			p.j.resent.Add(uint64(len(f.batch)))
			p.send(f, i+1)
		}
	}
	return nil
}

// ack finishes the first k batches of the window: they are stored.
func (p *publisher) ack(k int) {
	if k == 0 {
		return
	}
	for _, f := range p.window[:k] {
		p.j.batches.Add(1)
		p.j.batched.Add(uint64(len(f.batch)))
		for _, c := range f.batch {
			c.finish(nil)
		}
		p.last = f.end()
	}
	p.window = append(p.window[:0], p.window[k:]...)
	p.j.window.Store(uint64(len(p.window)))
}

// errNoAnswer: the batch's commit got no answer in time.
var errNoAnswer = errors.New("cluster: no answer to the batch")

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Seq   uint64 `json:"seq"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func parseAck(m *nats.Msg) (uint64, error) {
	if m.Header.Get("Status") == "503" {
		return 0, nats.ErrNoResponders
	}
	var a pubAck
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return 0, fmt.Errorf("cluster: bad publish answer %q: %w", m.Data, err)
	}
	if a.Error != nil {
		return 0, fmt.Errorf("cluster: publish refused: %s (code %d)", a.Error.Description, a.Error.ErrCode)
	}
	if a.Seq == 0 {
		return 0, fmt.Errorf("cluster: publish answer without a sequence: %q", m.Data)
	}
	return a.Seq, nil
}

// resolve reads the stream until it can tell how many batches of the
// window are stored. The stream's last sequence L is read first, then
// the term subject's S. A reading below what JetStream has confirmed (L
// before the end of the last acknowledged batch, S before the leader's
// term message) comes from a stream leader that has not applied
// everything yet: it is read again. If the term subject holds a later
// message than the leader's term message, another node leads
// (ErrDeposed). Otherwise every message after the term message is this
// leader's, and its batches are stored only in order, each right after
// the one before, so L ends one of them: the batches up to it are
// stored, the others are not (yet); it returns how many are. A stream
// that stays behind for staleWait has lost what it confirmed: the
// leader steps down.
func (p *publisher) resolve() (int, error) {
	n2 := p.j.n
	p.j.resolutions.Add(1)
	start := time.Now()
	for {
		if p.l.down.Load() {
			return 0, p.l.why
		}
		last, termSeq, err := p.read()
		switch {
		case err != nil:
			n2.log.Debug("cluster: cannot read the stream to resolve a batch", "err", err)
		case (last < p.last || termSeq < p.l.seq) && time.Since(start) > staleWait:
			return 0, fmt.Errorf("%w: the stream's last sequence %d and term message %d stay behind the confirmed %d and %d", ErrDeposed, last, termSeq, p.last, p.l.seq)
		case last < p.last || termSeq < p.l.seq:
			n2.log.Debug("cluster: the stream's state is behind what it confirmed; reading again", "last", last, "acknowledged", p.last, "term", termSeq)
		case termSeq != p.l.seq:
			return 0, fmt.Errorf("%w: the stream's term message is at sequence %d, not this leader's %d: another node leads", ErrDeposed, termSeq, p.l.seq)
		case last == p.last:
			return 0, nil
		default:
			for i, f := range p.window {
				if last == f.end() {
					return i + 1, nil
				}
			}
			return 0, fmt.Errorf("%w: the stream's last sequence is %d, not the end of a batch from %d to %d", ErrDeposed, last, p.last, p.window[len(p.window)-1].end())
		}
		select {
		case <-p.l.done:
			return 0, p.l.why
		case <-time.After(resolveRetry):
		}
	}
}

// read returns the stream's last sequence and then its term subject's.
func (p *publisher) read() (last, term uint64, err error) {
	n := p.j.n
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Lease)
	defer cancel()
	st, err := n.js.Stream(ctx, n.names.stream)
	if err != nil {
		return 0, 0, err
	}
	last = st.CachedInfo().State.LastSeq
	m, err := st.GetLastMsgForSubject(ctx, n.names.termSubject())
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return last, 0, nil
		}
		return 0, 0, err
	}
	return last, m.Sequence, nil
}

// batchID returns a unique batch id (JetStream allows up to 64 bytes).
func batchID() string {
	inbox := nats.NewInbox()
	return inbox[len(nats.InboxPrefix):]
}
