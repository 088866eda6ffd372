package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// This file encodes the stream's message payloads (doc.go, Messages).

const codecVersion = 1

// ErrCorrupt marks a message in the stream that cannot be decoded.
var ErrCorrupt = errors.New("cluster: undecodable message")

// enc appends fields in the stream's encoding.
type enc []byte

func (e enc) u(v uint64) enc        { return binary.AppendUvarint(e, v) }
func (e enc) i(v int64) enc         { return binary.AppendVarint(e, v) }
func (e enc) s(v string) enc        { return append(e.u(uint64(len(v))), v...) }
func (e enc) d(v time.Duration) enc { return e.i(int64(v)) }
func (e enc) t(v time.Time) enc {
	if v.IsZero() {
		return e.i(0)
	}
	return e.i(v.UnixNano())
}

// encodeJob returns a job message's payload: the whole job.
func encodeJob(j *job.Job) []byte {
	e := make(enc, 0, 64+len(j.Tube)+len(j.Body))
	e = append(e, codecVersion)
	e = e.u(uint64(j.ID)).s(j.Tube).u(uint64(j.Priority)).d(j.Delay).d(j.TTR)
	e = append(e, byte(j.State))
	e = e.t(j.Created).t(j.Deadline)
	e = e.u(uint64(j.Reserves)).u(uint64(j.Timeouts)).u(uint64(j.Releases)).u(uint64(j.Buries)).u(uint64(j.Kicks))
	if f := j.Failure; f == nil {
		e = append(e, 0)
	} else {
		e = append(e, 1)
		e = e.u(uint64(f.Attempts)).s(f.FirstError).s(f.LastError).t(f.FirstAt).t(f.LastAt).t(f.RetryFrom)
		e = e.s(f.Origin).s(f.GaveUp).u(uint64(f.Kicks)).t(f.KickedAt)
	}
	return e.u(uint64(len(j.Body))).append(j.Body)
}

func (e enc) append(b []byte) []byte { return append(e, b...) }

// term is a term message: who leads since when.
type term struct {
	Term uint64
	Node string
	Addr string
	Next job.ID // the next job id to hand out, when the term began
}

func encodeTerm(t term) []byte {
	e := enc{codecVersion}
	return e.u(t.Term).s(t.Node).s(t.Addr).u(uint64(t.Next))
}

func encodeIDs(next job.ID) []byte { return enc{codecVersion}.u(uint64(next)) }

// tick is a tick message: a periodic job's schedule fired at At and put
// job ID.
type tick struct {
	Schedule string
	At       time.Time
	ID       job.ID
}

func encodeTick(t tick) []byte {
	e := enc{codecVersion}
	return e.s(t.Schedule).t(t.At).u(uint64(t.ID))
}

// dec reads fields; the first error sticks and names the field.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *dec) u(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) u32(what string) uint32 {
	v := d.u(what)
	if v > 1<<32-1 {
		d.fail(what)
	}
	return uint32(v)
}

func (d *dec) i(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) byte1(what string) byte {
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) bytes(what string) []byte {
	n := d.u(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) s(what string) string { return string(d.bytes(what)) }

func (d *dec) t(what string) time.Time {
	if v := d.i(what); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}

func (d *dec) version() {
	if v := d.byte1("version"); d.err == nil && v != codecVersion {
		d.fail(fmt.Sprintf("version %d (this node reads %d)", v, codecVersion))
	}
}

func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("length (trailing bytes)")
	}
	return d.err
}

// decodeJob decodes a job message's payload. The body is copied, so p
// may be reused.
func decodeJob(p []byte) (*job.Job, error) {
	d := dec{b: p}
	d.version()
	j := &job.Job{ID: job.ID(d.u("id"))}
	j.Tube = d.s("tube")
	j.Priority = d.u32("priority")
	j.Delay = time.Duration(d.i("delay"))
	j.TTR = time.Duration(d.i("ttr"))
	j.State = job.State(d.byte1("state"))
	if d.err == nil && (j.State < job.Ready || j.State > job.Buried) {
		d.fail("state")
	}
	j.Created = d.t("created")
	j.Deadline = d.t("deadline")
	j.Reserves, j.Timeouts, j.Releases = d.u32("reserves"), d.u32("timeouts"), d.u32("releases")
	j.Buries, j.Kicks = d.u32("buries"), d.u32("kicks")
	switch d.byte1("failure flag") {
	case 0:
	case 1:
		f := &job.Failure{Attempts: d.u32("attempts")}
		f.FirstError, f.LastError = d.s("first error"), d.s("last error")
		f.FirstAt, f.LastAt, f.RetryFrom = d.t("first at"), d.t("last at"), d.t("retry from")
		f.Origin, f.GaveUp = d.s("origin"), d.s("gave up")
		f.Kicks, f.KickedAt = d.u32("failure kicks"), d.t("kicked at")
		j.Failure = f
	default:
		d.fail("failure flag")
	}
	j.Body = append([]byte(nil), d.bytes("body")...)
	if err := d.end(); err != nil {
		return nil, err
	}
	if j.ID == 0 {
		return nil, fmt.Errorf("%w: job id 0", ErrCorrupt)
	}
	return j, nil
}

func decodeTerm(p []byte) (term, error) {
	d := dec{b: p}
	d.version()
	t := term{Term: d.u("term"), Node: d.s("node"), Addr: d.s("addr"), Next: job.ID(d.u("next"))}
	return t, d.end()
}

func decodeIDs(p []byte) (job.ID, error) {
	d := dec{b: p}
	d.version()
	next := job.ID(d.u("next"))
	return next, d.end()
}

func decodeTick(p []byte) (tick, error) {
	d := dec{b: p}
	d.version()
	t := tick{Schedule: d.s("schedule"), At: d.t("tick time"), ID: job.ID(d.u("job id"))}
	return t, d.end()
}
