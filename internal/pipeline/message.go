package pipeline

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// MaxChain is how many failures a message's error chain keeps; older ones
// are counted in Message.Dropped so a message looping through a disk buffer
// for days does not grow without bound.
const MaxChain = 16

// Failure is one entry of a message's error chain: where and why it failed.
type Failure struct {
	Module  string    `json:"module"`
	Error   string    `json:"error"`
	Hop     int       `json:"hop"`
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
}

// Message is what travels between modules. Body is treated as immutable once
// emitted; every queue holds its own copy of the other fields, so a module
// may change Meta or Body on the message it was handed before emitting it.
type Message struct {
	// ID identifies the message end to end (generators make it unique).
	ID string `json:"id"`
	// Body is the payload (for the generator, a JSON object).
	Body []byte `json:"body"`
	// Meta holds small string annotations set by modules (tube job id…).
	Meta map[string]string `json:"meta,omitempty"`
	// Hops counts queue transfers since the message entered the pipeline or
	// last left a durable module; the runtime's hop budget bounds it.
	Hops int `json:"hops"`
	// Attempt counts the failed tries before this one (0 on the first
	// try): passes through retry modules, and for a message from
	// input.tube the server's count for its job (the failures of its
	// series on Reprieve, earlier reserves on beanstalkd). process.exec's
	// REPRIEVE_ATTEMPT is Attempt+1.
	Attempt int `json:"attempt"`
	// Errors is the error chain, oldest first, at most MaxChain long.
	Errors []Failure `json:"errors,omitempty"`
	// Dropped counts chain entries discarded to respect MaxChain.
	Dropped int `json:"dropped_errors,omitempty"`

	track *tracker
}

// tracker follows one message and its copies through the pipeline and calls
// done once no queue or module holds any of them: the message has left the
// pipeline, delivered (err nil) or given up on (err is the last failure).
type tracker struct {
	refs    atomic.Int64
	lastErr atomic.Pointer[string]
	done    func(err error)
}

// NewMessage returns a message with the given id and body.
func NewMessage(id string, body []byte) *Message {
	return &Message{ID: id, Body: body}
}

// OnDone asks for f to be called exactly once when the message and every
// copy made of it (fanout) have left the pipeline: err is nil if the last
// copy finished successfully, otherwise it describes the last failure, drop
// or hop-budget exhaustion. Inputs use it to commit offsets and acknowledge
// jobs only after downstream acceptance. Call it before the first Emit.
func (m *Message) OnDone(f func(err error)) {
	m.track = &tracker{done: f}
}

// Hold keeps the message's tracker open beyond the current Handle call: the
// runtime will not report the message done until release is called (with
// nil once the module has made it durable or delivered it, or with an
// error). Modules that buffer (diskout, retry) use it. Hold on a message
// without a tracker returns a no-op release.
func (m *Message) Hold() (release func(err error)) {
	t := m.track
	if t == nil {
		return func(error) {}
	}
	t.refs.Add(1)
	var once atomic.Bool
	return func(err error) {
		if once.CompareAndSwap(false, true) {
			t.release(err)
		}
	}
}

func (t *tracker) acquire() {
	if t != nil {
		t.refs.Add(1)
	}
}

func (t *tracker) release(err error) {
	if t == nil {
		return
	}
	if err != nil {
		s := err.Error()
		t.lastErr.Store(&s)
	}
	if t.refs.Add(-1) == 0 {
		if p := t.lastErr.Load(); p != nil {
			t.done(fmt.Errorf("%w: %s", ErrGaveUp, *p))
			return
		}
		t.done(nil)
	}
}

// Clone returns a copy sharing Body (never modified in place) but owning
// its Meta map and error chain, and the same done tracker.
func (m *Message) Clone() *Message {
	c := *m
	if m.Meta != nil {
		c.Meta = make(map[string]string, len(m.Meta))
		for k, v := range m.Meta {
			c.Meta[k] = v
		}
	}
	c.Errors = m.Errors[:len(m.Errors):len(m.Errors)]
	return &c
}

// Detach returns a copy with no done tracker: a new life for a message that
// a durable module has stored and now sends on. Hops restart at zero; the
// error chain is kept.
func (m *Message) Detach() *Message {
	c := m.Clone()
	c.track = nil
	c.Hops = 0
	return c
}

// annotate appends a failure to the chain, trimming it to MaxChain.
func (m *Message) annotate(f Failure) {
	chain := append(m.Errors[:len(m.Errors):len(m.Errors)], f)
	if len(chain) > MaxChain {
		m.Dropped += len(chain) - MaxChain
		chain = chain[len(chain)-MaxChain:]
	}
	m.Errors = chain
}

// LastError returns the newest failure of the chain, or nil.
func (m *Message) LastError() *Failure {
	if len(m.Errors) == 0 {
		return nil
	}
	return &m.Errors[len(m.Errors)-1]
}

// Marshal encodes the message (without its tracker) for durable modules.
func (m *Message) Marshal() ([]byte, error) {
	return json.Marshal(m)
}

// Unmarshal decodes a message written by Marshal.
func Unmarshal(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("pipeline: decode message: %w", err)
	}
	return &m, nil
}
