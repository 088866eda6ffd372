package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/jobcodec"
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

// appendPut appends a framed put record of j.
func appendPut(b []byte, seq uint64, j *job.Job) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recPut)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(j.ID))
		return jobcodec.AppendJob(b, j)
	})
}

// appendUpdate appends a framed update record of j's changing fields.
func appendUpdate(b []byte, seq uint64, j *job.Job) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = append(b, recUpdate)
		b = binary.AppendUvarint(b, seq)
		b = binary.AppendUvarint(b, uint64(j.ID))
		b = jobcodec.AppendString(b, j.Tube)
		b = binary.AppendUvarint(b, uint64(j.Priority))
		b = binary.AppendVarint(b, int64(j.Delay))
		b = binary.AppendVarint(b, int64(j.TTR))
		b = append(b, byte(j.State))
		b = jobcodec.AppendTime(b, j.Deadline)
		b = jobcodec.AppendCounters(b, j)
		return jobcodec.AppendFailure(b, j.Failure)
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
		return jobcodec.AppendTime(b, at)
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

// decodeInto decodes one record's payload, a put or update into into when
// it is not nil (replay reuses job structs that lose to newer records).
func decodeInto(p []byte, into *job.Job) (record, error) {
	d := jobcodec.Decoder{B: p, Bad: errBadRecord}
	var r record
	r.typ = d.Byte("type")
	r.seq = d.Uvarint("seq")
	r.id = job.ID(d.Uvarint("id"))
	if d.Err == nil && r.seq == 0 {
		d.Fail("seq")
	}
	switch r.typ {
	case recPut:
		j := newJobFor(into, r.id)
		d.Job(j)
		r.job = j
	case recUpdate:
		j := newJobFor(into, r.id)
		j.Tube = d.String("tube")
		j.Priority = d.U32("priority")
		j.Delay = time.Duration(d.Varint("delay"))
		j.TTR = time.Duration(d.Varint("ttr"))
		j.State = d.State()
		j.Deadline = d.Time("deadline")
		d.Counters(j)
		j.Failure = d.Failure()
		r.job = j
	case recDelete, recGone:
		r.putSeg = d.Uvarint("put segment")
	case recMark:
		if d.Err == nil && len(d.B) > 0 {
			r.hasList = true
			n := d.Uvarint("segment count")
			if n > uint64(len(d.B)) {
				d.Fail("segment count")
			}
			for i := uint64(0); i < n && d.Err == nil; i++ {
				r.segs = append(r.segs, d.Uvarint("segment number"))
			}
		}
	case recDrop:
		r.putSeg = d.Uvarint("segment number")
		if d.Err == nil && (r.id != 0 || r.putSeg == 0) {
			d.Fail("drop")
		}
	case recTick:
		r.name = d.String("schedule")
		r.at = d.Time("tick")
	default:
		d.Fail("type")
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("length (trailing bytes)")
	}
	if d.Err == nil && r.typ != recMark && r.typ != recDrop && r.id == 0 {
		d.Fail("id")
	}
	return r, d.Err
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
