package wal

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/reprieve/reprieve/internal/job"
)

// LostRecord is a record that a torn tail or a repair dropped, as far as
// its remains tell.
type LostRecord struct {
	// File and Offset locate the record's frame.
	File   string
	Offset int64
	// Type is "put", "update", "delete", "gone", "mark" or "drop", or ""
	// when the remains do not tell.
	Type string
	// JobID is the job the record was about; 0 when unknown.
	JobID job.ID
}

var recordNames = map[byte]string{recPut: "put", recUpdate: "update", recDelete: "delete", recGone: "gone", recMark: "mark", recDrop: "drop"}

// lostRecords names the frames of buf[from:to], walking them by their
// lengths without checking them: the type and job id come from the
// start of each payload, which a torn write usually leaves intact.
func lostRecords(path string, buf []byte, from, to int) []LostRecord {
	var out []LostRecord
	for off := from; off < to; {
		if off+frameHeaderSize > len(buf) {
			out = append(out, LostRecord{File: path, Offset: int64(off)})
			break
		}
		n := int(binary.LittleEndian.Uint32(buf[off:]))
		if n == 0 && binary.LittleEndian.Uint32(buf[off+4:]) == 0 {
			off += 8 // zeros inside the range: the next frame may follow
			continue
		}
		lr := LostRecord{File: path, Offset: int64(off)}
		p := buf[off+frameHeaderSize : min(off+frameHeaderSize+n, len(buf))]
		if len(p) > 0 {
			if name, ok := recordNames[p[0]]; ok {
				lr.Type = name
				if _, k := binary.Uvarint(p[1:]); k > 0 {
					if id, k2 := binary.Uvarint(p[1+k:]); k2 > 0 && p[0] != recMark && p[0] != recDrop {
						lr.JobID = job.ID(id)
					}
				}
			}
		}
		out = append(out, lr)
		if n == 0 || n > len(buf)-off-frameHeaderSize {
			break
		}
		off += padded(n + frameHeaderSize)
	}
	return out
}

// describeLost renders lost records for a message: how many, and the
// job ids known.
func describeLost(lost []LostRecord) string {
	ids := lostJobIDs(lost)
	s := fmt.Sprintf("%d record(s)", len(lost))
	if len(ids) == 0 {
		return s + ", no job id readable"
	}
	return s + " of job(s) " + joinIDs(ids)
}

// lostJobIDs returns the distinct job ids of lost records, in order.
func lostJobIDs(lost []LostRecord) []job.ID {
	var ids []job.ID
	seen := map[job.ID]bool{}
	for _, r := range lost {
		if r.JobID != 0 && !seen[r.JobID] {
			seen[r.JobID] = true
			ids = append(ids, r.JobID)
		}
	}
	return ids
}

// joinIDs renders ids as "1, 2, 3".
func joinIDs(ids []job.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ", ")
}

// damaged handles the bad frame at off. In a sealed segment it is damage:
// ErrCorrupt. In the active segment it is a torn tail when no valid
// record follows (zeroed, and reported with the records it cost), and
// ErrCorrupt otherwise.
func (l *Log) damaged(s *segment, buf []byte, off int, why error, rec *Recovery, sealed bool) error {
	last := lastNonZero(buf, off)
	if sealed {
		lost := lostRecords(s.path, buf, off, max(last+1, off+1))
		return fmt.Errorf("%w: %s offset %d: %v in a sealed segment (%s from there on): a sealed segment is complete on disk before the next one is written, so this is damage, not a torn tail; back up %s and run `reprieve repair --data %s`",
			ErrCorrupt, s.path, off, why, describeLost(lost), l.opts.Dir, l.opts.Dir)
	}
	if next := nextValid(buf, off+frameHeaderSize); next >= 0 {
		return fmt.Errorf("%w: %s offset %d: %v, yet a valid record follows at offset %d: the log is damaged, not torn; back up %s and run `reprieve repair --data %s`",
			ErrCorrupt, s.path, off, why, next, l.opts.Dir, l.opts.Dir)
	}
	if last < 0 {
		return nil
	}
	lost := lostRecords(s.path, buf, off, last+1)
	zeros := make([]byte, last+1-off)
	if _, err := s.f.WriteAt(zeros, int64(off)); err != nil {
		return fmt.Errorf("wal: truncate torn tail of %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("wal: fsync %s: %w", s.path, err)
	}
	copy(buf[off:], zeros)
	msg := fmt.Sprintf("%s at offset %d (%d bytes, %s: %v)", s.path, off, len(zeros), describeLost(lost), why)
	rec.TornTails = append(rec.TornTails, msg)
	rec.Lost = append(rec.Lost, lost...)
	l.logger.Warn("wal: torn tail truncated", "file", s.path, "offset", off, "bytes", len(zeros),
		"records", len(lost), "jobs", joinIDs(lostJobIDs(lost)), "reason", why.Error())
	return nil
}
