// Package jobcodec is the binary encoding of a job's fields that the
// single-node log's put records (internal/wal, docs/wal.md) and the
// cluster's job messages (internal/cluster, its doc.go) share: integers
// as unsigned varints (encoding/binary), durations as signed varints of
// nanoseconds, a time as a signed varint of Unix nanoseconds (0 for the
// zero time), a string as its length then its bytes. Each format frames
// and versions the fields itself.
package jobcodec

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// AppendString appends s, its length first.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendTime appends t as Unix nanoseconds, 0 for the zero time.
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// AppendFailure appends 0 for no failure history, else 1 and its fields.
func AppendFailure(b []byte, f *job.Failure) []byte {
	if f == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(f.Attempts))
	b = AppendString(b, f.FirstError)
	b = AppendString(b, f.LastError)
	b = AppendTime(b, f.FirstAt)
	b = AppendTime(b, f.LastAt)
	b = AppendTime(b, f.RetryFrom)
	b = AppendString(b, f.Origin)
	b = AppendString(b, f.GaveUp)
	b = binary.AppendUvarint(b, uint64(f.Kicks))
	return AppendTime(b, f.KickedAt)
}

// AppendCounters appends the job's reserves, timeouts, releases, buries
// and kicks.
func AppendCounters(b []byte, j *job.Job) []byte {
	for _, c := range [...]uint32{j.Reserves, j.Timeouts, j.Releases, j.Buries, j.Kicks} {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

// AppendJob appends every field of j after its id: tube, priority, delay,
// ttr, state (1 byte), created, deadline, the counters, the failure
// history and the body.
func AppendJob(b []byte, j *job.Job) []byte {
	b = AppendString(b, j.Tube)
	b = binary.AppendUvarint(b, uint64(j.Priority))
	b = binary.AppendVarint(b, int64(j.Delay))
	b = binary.AppendVarint(b, int64(j.TTR))
	b = append(b, byte(j.State))
	b = AppendTime(b, j.Created)
	b = AppendTime(b, j.Deadline)
	b = AppendCounters(b, j)
	b = AppendFailure(b, j.Failure)
	b = binary.AppendUvarint(b, uint64(len(j.Body)))
	return append(b, j.Body...)
}

// Decoder reads fields from B. The first field that cannot be read sets
// Err, wrapping Bad and naming the field; every later read then returns
// the zero value.
type Decoder struct {
	B   []byte
	Bad error // the format's sentinel error
	Err error
}

// Fail records that field what is bad, unless an error is recorded.
func (d *Decoder) Fail(what string) {
	if d.Err == nil {
		d.Err = fmt.Errorf("%w: bad %s", d.Bad, what)
	}
	d.B = nil
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint(what string) uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Fail(what)
		return 0
	}
	d.B = d.B[n:]
	return v
}

// U32 reads an unsigned varint that must fit 32 bits.
func (d *Decoder) U32(what string) uint32 {
	v := d.Uvarint(what)
	if v > 1<<32-1 {
		d.Fail(what)
	}
	return uint32(v)
}

// Varint reads a signed varint.
func (d *Decoder) Varint(what string) int64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.Fail(what)
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Byte reads one byte.
func (d *Decoder) Byte(what string) byte {
	if d.Err != nil {
		return 0
	}
	if len(d.B) == 0 {
		d.Fail(what)
		return 0
	}
	v := d.B[0]
	d.B = d.B[1:]
	return v
}

// Bytes reads a length and as many bytes; the result aliases B.
func (d *Decoder) Bytes(what string) []byte {
	n := d.Uvarint(what)
	if d.Err != nil {
		return nil
	}
	if n > uint64(len(d.B)) {
		d.Fail(what)
		return nil
	}
	v := d.B[:n:n]
	d.B = d.B[n:]
	return v
}

// String reads a length and as many bytes as a string.
func (d *Decoder) String(what string) string { return string(d.Bytes(what)) }

// Time reads a time (0: the zero time).
func (d *Decoder) Time(what string) time.Time {
	v := d.Varint(what)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// State reads a job state (one byte, Ready to Buried).
func (d *Decoder) State() job.State {
	s := job.State(d.Byte("state"))
	if d.Err == nil && (s < job.Ready || s > job.Buried) {
		d.Fail("state")
	}
	return s
}

// Counters reads the counters AppendCounters wrote into j.
func (d *Decoder) Counters(j *job.Job) {
	j.Reserves = d.U32("reserves")
	j.Timeouts = d.U32("timeouts")
	j.Releases = d.U32("releases")
	j.Buries = d.U32("buries")
	j.Kicks = d.U32("kicks")
}

// Failure reads what AppendFailure wrote.
func (d *Decoder) Failure() *job.Failure {
	switch d.Byte("failure flag") {
	case 0:
		return nil
	case 1:
	default:
		d.Fail("failure flag")
		return nil
	}
	f := &job.Failure{}
	f.Attempts = d.U32("attempts")
	f.FirstError = d.String("first error")
	f.LastError = d.String("last error")
	f.FirstAt = d.Time("first at")
	f.LastAt = d.Time("last at")
	f.RetryFrom = d.Time("retry from")
	f.Origin = d.String("origin")
	f.GaveUp = d.String("gave up")
	f.Kicks = d.U32("failure kicks")
	f.KickedAt = d.Time("kicked at")
	return f
}

// Job reads what AppendJob wrote into j; j.Body aliases B.
func (d *Decoder) Job(j *job.Job) {
	j.Tube = d.String("tube")
	j.Priority = d.U32("priority")
	j.Delay = time.Duration(d.Varint("delay"))
	j.TTR = time.Duration(d.Varint("ttr"))
	j.State = d.State()
	j.Created = d.Time("created")
	j.Deadline = d.Time("deadline")
	d.Counters(j)
	j.Failure = d.Failure()
	j.Body = d.Bytes("body")
}

// End records trailing bytes as an error and returns the error.
func (d *Decoder) End() error {
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("length (trailing bytes)")
	}
	return d.Err
}
