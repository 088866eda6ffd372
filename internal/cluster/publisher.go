package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The publisher writes the journal's queue to the stream, one fenced
// atomic batch at a time, and resends a batch whose outcome it does not
// know until the stream shows it stored or another writer (doc.go,
// Publishing).

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

// Waits of the publisher: a batch unanswered after batchWait is resolved
// from the stream's state; a resolution that cannot read the stream (an
// election) tries again after resolveRetry.
const (
	batchWait    = 5 * time.Second
	resolveRetry = 100 * time.Millisecond
)

// publisher is the state of one leader's publishing goroutine.
type publisher struct {
	j       *Journal
	l       *Leader
	last    uint64 // the stream's last sequence: the leader's last stored batch (or term message)
	inbox   string
	replies chan *nats.Msg
	attempt uint64 // numbers the reply subjects, so a late reply is known
}

// publish runs while l leads: it takes the queued changes, writes them as
// one batch, and finishes them once stored. A batch that cannot be
// written (the stream shows another writer, or l stepped down) makes l
// step down. It is started by activate and counted in the node's wait
// group.
func (j *Journal) publish(l *Leader) {
	defer j.n.wg.Done()
	p := &publisher{j: j, l: l, last: l.seq, inbox: j.n.nc.NewInbox(), replies: make(chan *nats.Msg, 64)}
	sub, err := j.n.nc.ChanSubscribe(p.inbox+".*", p.replies)
	if err != nil {
		j.fail(l, fmt.Errorf("publisher: subscribe to replies: %w", err))
		return
	}
	defer sub.Unsubscribe()
	for {
		batch := j.take(l)
		if batch == nil {
			j.fail(l, l.why)
			return
		}
		if err := p.write(batch); err != nil {
			for _, c := range batch {
				c.finish(err)
			}
			j.fail(l, err)
			return
		}
		j.batches.Add(1)
		for _, c := range batch {
			c.finish(nil)
		}
	}
}

// take blocks until changes are queued, and returns the first of them up
// to a batch's limits; nil once l stepped down.
func (j *Journal) take(l *Leader) []*change {
	for {
		j.mu.Lock()
		if n := len(j.queue); n > 0 {
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
			j.mu.Unlock()
			return batch
		}
		j.mu.Unlock()
		select {
		case <-j.wake:
		case <-l.done:
			return nil
		}
	}
}

// write stores batch right after p.last, resending it until the stream
// shows it stored; it returns an error when it cannot be (another writer,
// the leader stepped down).
func (p *publisher) write(batch []*change) error {
	for try := 0; ; try++ {
		if try > 0 {
			p.j.resent.Add(uint64(len(batch)))
		}
		seq, err := p.send(batch)
		if err == nil {
			if seq != p.last+uint64(len(batch)) {
				return fmt.Errorf("%w: batch stored up to sequence %d, expected %d", ErrDeposed, seq, p.last+uint64(len(batch)))
			}
			p.last = seq
			return nil
		}
		if p.l.down.Load() {
			return p.l.why
		}
		p.j.n.log.Debug("cluster: batch not confirmed; reading the stream", "after", p.last, "msgs", len(batch), "err", err)
		stored, err := p.resolve(uint64(len(batch)))
		if err != nil {
			return err
		}
		if stored {
			p.last += uint64(len(batch))
			return nil
		}
	}
}

// errNoAnswer: the batch's commit got no answer in time.
var errNoAnswer = errors.New("cluster: no answer to the batch")

// send publishes batch once, expecting the stream's last sequence p.last
// and the term subject's last sequence the leader's term message, and
// waits for the answer to its last message. It returns the stream
// sequence of the batch's last message, or why it was not confirmed.
func (p *publisher) send(batch []*change) (uint64, error) {
	nc := p.j.n.nc
	p.attempt++
	reply := p.inbox + "." + strconv.FormatUint(p.attempt, 10)
	id := batchID()
	for i, c := range batch {
		m := &nats.Msg{Subject: c.subject, Data: c.data, Header: nats.Header{}}
		if c.tombstone {
			m.Header.Set(opHeader, opDelete)
			m.Header.Set(hdrTTL, p.j.n.cfg.TombstoneTTL.String())
		}
		if i == 0 {
			m.Header.Set(hdrExpectLast, strconv.FormatUint(p.last, 10))
			m.Header.Set(hdrExpectSubjLast, strconv.FormatUint(p.l.seq, 10))
			m.Header.Set(hdrExpectSubj, p.j.n.names.termSubject())
		}
		if len(batch) > 1 {
			// A single message needs no batch: it is atomic by itself.
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i == len(batch)-1 {
			if len(batch) > 1 {
				m.Header.Set(hdrBatchCommit, "1")
			}
			m.Reply = reply
		}
		if err := nc.PublishMsg(m); err != nil {
			return 0, err
		}
	}
	t := time.NewTimer(batchWait)
	defer t.Stop()
	for {
		select {
		case m := <-p.replies:
			if m.Subject != reply {
				continue // the late answer to an earlier try
			}
			return parseAck(m)
		case <-t.C:
			return 0, errNoAnswer
		case <-p.l.done:
			return 0, p.l.why
		}
	}
}

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

// resolve reads the stream until it can tell whether the batch of n
// messages after p.last is stored. The stream's last sequence L is read
// first, then the term subject's: if the term subject no longer holds
// the leader's term message, another node leads (ErrDeposed). Otherwise
// every message after the term message is this leader's, and it has at
// most this batch in flight, so L is p.last (not stored: send it again)
// or p.last+n (stored).
func (p *publisher) resolve(n uint64) (bool, error) {
	n2 := p.j.n
	for {
		if p.l.down.Load() {
			return false, p.l.why
		}
		last, termSeq, err := p.read()
		switch {
		case err != nil:
			n2.log.Debug("cluster: cannot read the stream to resolve a batch", "err", err)
		case termSeq != p.l.seq:
			return false, fmt.Errorf("%w: the stream's term message is at sequence %d, not this leader's %d: another node leads", ErrDeposed, termSeq, p.l.seq)
		case last == p.last:
			return false, nil
		case last == p.last+n:
			return true, nil
		default:
			return false, fmt.Errorf("%w: the stream's last sequence is %d, expected %d or %d", ErrDeposed, last, p.last, p.last+n)
		}
		select {
		case <-p.l.done:
			return false, p.l.why
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
