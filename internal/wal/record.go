package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// Record types; see doc.go.
const (
	recPut    byte = 1
	recUpdate byte = 2
	recDelete byte = 3
	recGone   byte = 4
	recMark   byte = 5
	recDrop   byte = 6
	recTick   byte = 7
)

// tombSize is the largest framed delete or gone record: every live job
// owes the room for one (see doc.go, "Full disk").
const tombSize = 40

// frameHeaderSize is the length and checksum in front of every payload.
const frameHeaderSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord describes why a payload cannot be decoded.
var errBadRecord = errors.New("wal: malformed record")

// record is a decoded payload.
type record struct {
	typ    byte
	seq    uint64
	id     job.ID
	putSeg uint64   // delete, gone: the put's segment; drop: the segment removed
	job    *job.Job // put (whole job), update (fields of an update)
	// segs is a head mark's list of the store's other segments; hasList
	// tells a head mark (whose list may be empty) from a plain one.
	segs    []uint64
	hasList bool
	name    string // tick: the schedule
	at      time.Time
}

// padded returns n rounded up to a multiple of 8.
func padded(n int) int { return (n + 7) &^ 7 }

// appendFrame appends a framed record built by payload to b and returns the
// result; payload appends the payload bytes to its argument.
func appendFrame(b []byte, payload func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = payload(b)
	n := len(b) - start - frameHeaderSize
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+frameHeaderSize:], castagnoli))
	for len(b)-start < padded(n+frameHeaderSize) {
		b = append(b, 0)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// appendFailure appends 0 for no failure history, else 1 and its fields.
func appendFailure(b []byte, f *job.Failure) []byte {
	if f == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(f.Attempts))
	b = appendString(b, f.FirstError)
	b = appendString(b, f.LastError)
	b = appendTime(b, f.FirstAt)
	b = appendTime(b, f.LastAt)
	b = appendTime(b, f.RetryFrom)
	b = appendString(b, f.Origin)
	b = appendString(b, f.GaveUp)
	b = binary.AppendUvarint(b, uint64(f.Kicks))
	return appendTime(b, f.KickedAt)
}

func appendCounters(b []byte, j *job.Job) []byte {
	for _, c := range [...]uint32{j.Reserves, j.Timeouts, j.Releases, j.Buries, j.Kicks} {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

// appendPut appends a framed put record of j.
func appendPut(b []byte, seq uint64, j *job.Job) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recPut)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(j.ID))
		b = appendString(b, j.Tube)
		b = binary.AppendUvarint(b, uint64(j.Priority))
		b = binary.AppendVarint(b, int64(j.Delay))
		b = binary.AppendVarint(b, int64(j.TTR))
		b = append(b, byte(j.State))
		b = appendTime(b, j.Created)
		b = appendTime(b, j.Deadline)
		b = appendCounters(b, j)
		b = appendFailure(b, j.Failure)
		b = binary.AppendUvarint(b, uint64(len(j.Body)))
		return append(b, j.Body...)
	})
}

// appendUpdate appends a framed update record of j's changing fields.
func appendUpdate(b []byte, seq uint64, j *job.Job) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recUpdate)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(j.ID))
		b = appendString(b, j.Tube)
		b = binary.AppendUvarint(b, uint64(j.Priority))
		b = binary.AppendVarint(b, int64(j.Delay))
		b = binary.AppendVarint(b, int64(j.TTR))
		b = append(b, byte(j.State))
		b = appendTime(b, j.Deadline)
		b = appendCounters(b, j)
		return appendFailure(b, j.Failure)
	})
}

// appendTomb appends a framed delete or gone record.
func appendTomb(b []byte, typ byte, seq uint64, id job.ID, putSeg uint64) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, typ)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(id))
		return binary.AppendUvarint(b, putSeg)
	})
}

// appendTick appends a framed tick record: schedule fired tick at, for
// job id.
func appendTick(b []byte, seq uint64, id job.ID, schedule string, at time.Time) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recTick)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(id))
		b = binary.AppendUvarint(b, uint64(len(schedule)))
		b = append(b, schedule...)
		return appendTime(b, at)
	})
}

// appendMark appends a framed mark record carrying the next job id.
func appendMark(b []byte, seq uint64, next job.ID) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recMark)
		b = binary.AppendUvarint(b, seq)
		return binary.AppendUvarint(b, uint64(next))
	})
}

// appendHeadMark appends a framed head mark: the first record of a head
// segment, carrying the next job id and the store's other segments.
func appendHeadMark(b []byte, seq uint64, next job.ID, segs []uint64) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recMark)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(next))
		b = binary.AppendUvarint(b, uint64(len(segs)))
		for _, n := range segs {
			b = binary.AppendUvarint(b, n)
		}
		return b
	})
}

// appendDrop appends a framed drop record: compaction removes segment num.
func appendDrop(b []byte, seq, num uint64) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recDrop)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, 0)
		return binary.AppendUvarint(b, num)
	})
}

// decoder reads payload fields; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errBadRecord, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32(what string) uint32 {
	v := d.uvarint(what)
	if v > 1<<32-1 {
		d.fail(what)
	}
	return uint32(v)
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(what string) string { return string(d.bytes(what)) }

func (d *decoder) time(what string) time.Time {
	v := d.varint(what)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func (d *decoder) state() job.State {
	s := job.State(d.byte1("state"))
	if d.err == nil && (s < job.Ready || s > job.Buried) {
		d.fail("state")
	}
	return s
}

func (d *decoder) counters(j *job.Job) {
	j.Reserves = d.u32("reserves")
	j.Timeouts = d.u32("timeouts")
	j.Releases = d.u32("releases")
	j.Buries = d.u32("buries")
	j.Kicks = d.u32("kicks")
}

func (d *decoder) failure() *job.Failure {
	switch d.byte1("failure flag") {
	case 0:
		return nil
	case 1:
	default:
		d.fail("failure flag")
		return nil
	}
	f := &job.Failure{}
	f.Attempts = d.u32("attempts")
	f.FirstError = d.str("first error")
	f.LastError = d.str("last error")
	f.FirstAt = d.time("first at")
	f.LastAt = d.time("last at")
	f.RetryFrom = d.time("retry from")
	f.Origin = d.str("origin")
	f.GaveUp = d.str("gave up")
	f.Kicks = d.u32("failure kicks")
	f.KickedAt = d.time("kicked at")
	return f
}

// decodeInto decodes one record's payload, a put or update into into when
// it is not nil (replay reuses job structs that lose to newer records).
func decodeInto(p []byte, into *job.Job) (record, error) {
	d := decoder{b: p}
	var r record
	r.typ = d.byte1("type")
	r.seq = d.uvarint("seq")
	r.id = job.ID(d.uvarint("id"))
	if d.err == nil && r.seq == 0 {
		d.fail("seq")
	}
	switch r.typ {
	case recPut:
		j := newJobFor(into, r.id)
		j.Tube = d.str("tube")
		j.Priority = d.u32("priority")
		j.Delay = time.Duration(d.varint("delay"))
		j.TTR = time.Duration(d.varint("ttr"))
		j.State = d.state()
		j.Created = d.time("created")
		j.Deadline = d.time("deadline")
		d.counters(j)
		j.Failure = d.failure()
		j.Body = d.bytes("body")
		r.job = j
	case recUpdate:
		j := newJobFor(into, r.id)
		j.Tube = d.str("tube")
		j.Priority = d.u32("priority")
		j.Delay = time.Duration(d.varint("delay"))
		j.TTR = time.Duration(d.varint("ttr"))
		j.State = d.state()
		j.Deadline = d.time("deadline")
		d.counters(j)
		j.Failure = d.failure()
		r.job = j
	case recDelete, recGone:
		r.putSeg = d.uvarint("put segment")
	case recMark:
		if d.err == nil && len(d.b) > 0 {
			r.hasList = true
			n := d.uvarint("segment count")
			if n > uint64(len(d.b)) {
				d.fail("segment count")
			}
			for i := uint64(0); i < n && d.err == nil; i++ {
				r.segs = append(r.segs, d.uvarint("segment number"))
			}
		}
	case recDrop:
		r.putSeg = d.uvarint("segment number")
		if d.err == nil && (r.id != 0 || r.putSeg == 0) {
			d.fail("drop")
		}
	case recTick:
		r.name = d.str("schedule")
		r.at = d.time("tick")
	default:
		d.fail("type")
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("length (trailing bytes)")
	}
	if d.err == nil && r.typ != recMark && r.typ != recDrop && r.id == 0 {
		d.fail("id")
	}
	return r, d.err
}

func newJobFor(into *job.Job, id job.ID) *job.Job {
	if into == nil {
		return &job.Job{ID: id}
	}
	*into = job.Job{ID: id}
	return into
}

// applyUpdate overlays the fields an update carries onto j.
func applyUpdate(j, u *job.Job) {
	j.Tube = u.Tube
	j.Priority, j.Delay, j.TTR, j.State, j.Deadline = u.Priority, u.Delay, u.TTR, u.State, u.Deadline
	j.Reserves, j.Timeouts, j.Releases, j.Buries, j.Kicks = u.Reserves, u.Timeouts, u.Releases, u.Buries, u.Kicks
	j.Failure = u.Failure
}

// frameError says why the frame at an offset is not a record.
type frameError string

func (e frameError) Error() string { return string(e) }

// readFrame decodes the frame at b[off:]. It returns the record and the
// frame's padded size; size 0 with a nil error is the end marker.
func readFrame(b []byte, off int) (record, int, error) { return readFrameInto(b, off, nil) }

// readFrameInto is readFrame decoding a put or update into into.
func readFrameInto(b []byte, off int, into *job.Job) (record, int, error) {
	if off+frameHeaderSize > len(b) {
		return record{}, 0, nil
	}
	n := int(binary.LittleEndian.Uint32(b[off:]))
	sum := binary.LittleEndian.Uint32(b[off+4:])
	if n == 0 {
		if sum != 0 {
			return record{}, 0, frameError("zero length with a non-zero checksum")
		}
		return record{}, 0, nil
	}
	if n > len(b)-off-frameHeaderSize {
		return record{}, 0, frameError(fmt.Sprintf("length %d runs past the end of the file", n))
	}
	p := b[off+frameHeaderSize : off+frameHeaderSize+n]
	if crc32.Checksum(p, castagnoli) != sum {
		return record{}, 0, frameError("checksum mismatch")
	}
	r, err := decodeInto(p, into)
	if err != nil {
		return record{}, 0, frameError(err.Error())
	}
	size := padded(n + frameHeaderSize)
	if off+size > len(b) {
		size = len(b) - off
	}
	for _, c := range b[off+frameHeaderSize+n : off+size] {
		if c != 0 {
			return record{}, 0, frameError("non-zero padding after the record")
		}
	}
	return r, size, nil
}

func jobID(v uint64) job.ID { return job.ID(v) }
