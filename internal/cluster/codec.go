package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/jobcodec"
)

// This file encodes the stream's message payloads (doc.go, Messages); a
// job's fields are in the single-node log's encoding (internal/jobcodec).

const codecVersion = 1

// ErrCorrupt marks a message in the stream that cannot be decoded.
var ErrCorrupt = errors.New("cluster: undecodable message")

// encodeJob returns a job message's payload: the whole job.
func encodeJob(j *job.Job) []byte {
	b := make([]byte, 0, 64+len(j.Tube)+len(j.Body))
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(j.ID))
	return jobcodec.AppendJob(b, j)
}

// term is a term message: who leads since when.
type term struct {
	Term uint64
	Node string
	Addr string
	Next job.ID // the next job id to hand out, when the term began
}

func encodeTerm(t term) []byte {
	b := binary.AppendUvarint([]byte{codecVersion}, t.Term)
	b = jobcodec.AppendString(b, t.Node)
	b = jobcodec.AppendString(b, t.Addr)
	return binary.AppendUvarint(b, uint64(t.Next))
}

func encodeIDs(next job.ID) []byte { return binary.AppendUvarint([]byte{codecVersion}, uint64(next)) }

// tick is a tick message: a periodic job's schedule fired at At and put
// job ID.
type tick struct {
	Schedule string
	At       time.Time
	ID       job.ID
}

func encodeTick(t tick) []byte {
	b := jobcodec.AppendString([]byte{codecVersion}, t.Schedule)
	b = jobcodec.AppendTime(b, t.At)
	return binary.AppendUvarint(b, uint64(t.ID))
}

// decoder starts decoding p: its version byte first.
func decoder(p []byte) *jobcodec.Decoder {
	d := &jobcodec.Decoder{B: p, Bad: ErrCorrupt}
	if v := d.Byte("version"); d.Err == nil && v != codecVersion {
		d.Fail(fmt.Sprintf("version %d (this node reads %d)", v, codecVersion))
	}
	return d
}

// decodeJob decodes a job message's payload. The body is copied, so p
// may be reused.
func decodeJob(p []byte) (*job.Job, error) {
	d := decoder(p)
	j := &job.Job{ID: job.ID(d.Uvarint("id"))}
	d.Job(j)
	j.Body = append([]byte(nil), j.Body...)
	if err := d.End(); err != nil {
		return nil, err
	}
	if j.ID == 0 {
		return nil, fmt.Errorf("%w: job id 0", ErrCorrupt)
	}
	return j, nil
}

func decodeTerm(p []byte) (term, error) {
	d := decoder(p)
	t := term{Term: d.Uvarint("term"), Node: d.String("node"), Addr: d.String("addr"), Next: job.ID(d.Uvarint("next"))}
	return t, d.End()
}

func decodeIDs(p []byte) (job.ID, error) {
	d := decoder(p)
	next := job.ID(d.Uvarint("next"))
	return next, d.End()
}

func decodeTick(p []byte) (tick, error) {
	d := decoder(p)
	t := tick{Schedule: d.String("schedule"), At: d.Time("tick time"), ID: job.ID(d.Uvarint("job id"))}
	return t, d.End()
}
