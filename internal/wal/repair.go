package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RepairReport tells what Repair found and did.
type RepairReport struct {
	// Segments and Records count what was read; Records counts readable
	// records, all of which were kept.
	Segments, Records int
	// Damaged lists the segments that were rewritten (or, in a dry run,
	// would be).
	Damaged []DamagedSegment
	// Missing lists the sealed segments that a head mark lists but that
	// are gone; Repair records them as dropped, so the log starts without
	// their jobs (which no record names any more).
	Missing []string
	// BackupDir holds the original of every damaged segment, or would in
	// a dry run; "" when nothing is damaged.
	BackupDir string
	// DryRun tells that nothing was changed.
	DryRun bool
}

// DamagedSegment is one segment Repair rewrote.
type DamagedSegment struct {
	Path string
	// Kept counts the records salvaged; Dropped the unreadable byte
	// ranges; Lost the records in them, with job ids where readable.
	Kept    int
	Dropped []ByteRange
	Lost    []LostRecord
}

// ByteRange is a range of unreadable bytes of a segment.
type ByteRange struct {
	Off, Len int64
	Why      string
}

// String renders the report for the operator.
func (r *RepairReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d segments, %d readable records\n", r.Segments, r.Records)
	if len(r.Damaged) == 0 && len(r.Missing) == 0 {
		b.WriteString("no damage found; nothing changed\n")
		return b.String()
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(&b, "%s: kept %d records, dropped:\n", d.Path, d.Kept)
		for _, x := range d.Dropped {
			fmt.Fprintf(&b, "  %d bytes at offset %d (%s)\n", x.Len, x.Off, x.Why)
		}
		if ids := lostJobIDs(d.Lost); len(ids) > 0 {
			fmt.Fprintf(&b, "  dropped records of job(s) %s\n", joinIDs(ids))
		} else {
			b.WriteString("  no job id readable in the dropped bytes\n")
		}
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "%s is missing: every job it held is lost (no record names them any more)\n", m)
	}
	if r.BackupDir != "" {
		verb := "kept"
		if r.DryRun {
			verb = "would be kept"
		}
		fmt.Fprintf(&b, "originals %s in %s\n", verb, r.BackupDir)
	}
	b.WriteString("dropped records may have held puts (those jobs are lost), updates (older states come back) or deletes (deleted jobs come back)\n")
	return b.String()
}

// Repair salvages every readable record of the data directory dir. Each
// damaged segment (unreadable bytes, or a file shorter than its header
// says) is copied to a backup directory inside dir and rewritten with its
// readable records only (records do not depend on their position, see
// doc.go); a sealed segment with no readable record is moved there. A
// sealed segment that is missing, or was moved, gets a drop record in the
// active segment so that the log starts without it. With dryRun it only
// reports, naming the backup directory it would use. It takes the
// directory's lock, so it refuses to run beside a server.
func Repair(dir string, dryRun bool) (*RepairReport, error) {
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlockDir(lock)
	rep := &RepairReport{DryRun: dryRun}
	backup := filepath.Join(dir, "repair-"+time.Now().UTC().Format("20060102T150405Z"))
	var maxSeq uint64
	type drops struct {
		active string
		nums   []uint64
	}
	var toDrop []drops
	for _, kind := range []storeKind{hot, buried} {
		sdir := filepath.Join(dir, kind.String())
		if _, err := os.Stat(sdir); os.IsNotExist(err) {
			continue
		}
		nums, err := listSegments(sdir)
		if err != nil {
			return rep, err
		}
		bufs := make([][]byte, len(nums))
		empty := map[int]bool{}
		active := -1
		for i, num := range nums {
			path := filepath.Join(sdir, segmentName(num))
			buf, err := os.ReadFile(path)
			if err != nil {
				return rep, fmt.Errorf("wal: repair: %w", err)
			}
			bufs[i] = buf
			rep.Segments++
			kept, dropped := salvage(buf, kind, num)
			if size, err := checkHeader(buf, kind, num); err == nil && int64(len(buf)) < size {
				dropped = append(dropped, ByteRange{Off: int64(len(buf)), Len: size - int64(len(buf)), Why: fmt.Sprintf("the file is cut short: %d of %d bytes", len(buf), size)})
			}
			rep.Records += len(kept)
			for _, k := range kept {
				if r, _, err := readFrame(k, 0); err == nil {
					maxSeq = max(maxSeq, r.seq)
				}
			}
			if len(kept) > 0 || len(dropped) > 0 {
				active = i
			}
			if len(dropped) == 0 {
				empty[i] = len(kept) == 0
				continue
			}
			d := DamagedSegment{Path: path, Kept: len(kept), Dropped: dropped}
			for _, x := range dropped {
				if x.Off >= segmentHeaderSize && x.Off < int64(len(buf)) {
					d.Lost = append(d.Lost, lostRecords(path, buf, int(x.Off), int(min(x.Off+x.Len, int64(len(buf)))))...)
				}
			}
			rep.Damaged = append(rep.Damaged, d)
			rep.BackupDir = backup
			empty[i] = len(kept) == 0
			if dryRun {
				continue
			}
			if err := rewriteSegment(path, filepath.Join(backup, kind.String()), buf, kind, num, kept, false, false); err != nil {
				return rep, err
			}
		}
		for i := 0; i < active; i++ {
			if !empty[i] {
				continue
			}
			// A sealed segment without records was zeroed or is all
			// damage: it goes, as if it were missing.
			path := filepath.Join(sdir, segmentName(nums[i]))
			backedUp := rep.hasDamaged(nums[i], sdir)
			if !backedUp {
				rep.Damaged = append(rep.Damaged, DamagedSegment{Path: path, Dropped: []ByteRange{{Off: segmentHeaderSize, Len: int64(len(bufs[i])) - segmentHeaderSize, Why: "a sealed segment holds no records"}}})
				rep.BackupDir = backup
			}
			if dryRun {
				continue
			}
			if err := rewriteSegment(path, filepath.Join(backup, kind.String()), bufs[i], kind, nums[i], nil, true, backedUp); err != nil {
				return rep, err
			}
		}
		seq := sequenceOf(nums, func(i int) []byte { return bufs[i] }, active)
		if seq.mark < 0 {
			continue
		}
		var lost []uint64
		for i, num := range nums {
			if empty[i] && i < active && seq.expected[num] {
				lost = append(lost, num)
			}
		}
		for _, num := range seq.missing {
			rep.Missing = append(rep.Missing, filepath.Join(sdir, segmentName(num)))
			lost = append(lost, num)
		}
		if len(lost) > 0 {
			toDrop = append(toDrop, drops{active: filepath.Join(sdir, segmentName(nums[active])), nums: lost})
		}
	}
	if dryRun {
		return rep, nil
	}
	for _, d := range toDrop {
		if err := appendDrops(d.active, d.nums, &maxSeq); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// hasDamaged tells whether segment num of store directory sdir is listed
// as damaged.
func (r *RepairReport) hasDamaged(num uint64, sdir string) bool {
	path := filepath.Join(sdir, segmentName(num))
	for _, d := range r.Damaged {
		if d.Path == path {
			return true
		}
	}
	return false
}

// appendDrops writes a drop record for each of nums after the last record
// of the segment at path, and fsyncs it.
func appendDrops(path string, nums []uint64, maxSeq *uint64) error {
	buf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	off := segmentHeaderSize
	for {
		_, n, err := readFrame(buf, off)
		if err != nil || n == 0 {
			break
		}
		off += n
	}
	var recs []byte
	for _, num := range nums {
		*maxSeq++
		recs = appendDrop(recs, *maxSeq, num)
	}
	if off+len(recs) > len(buf) {
		return fmt.Errorf("wal: repair: no room in %s to record that segments %v are gone", path, nums)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteAt(recs, int64(off)); err != nil {
		return fmt.Errorf("wal: repair: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: repair: fsync %s: %w", path, err)
	}
	return nil
}

// salvage returns the readable frames of a segment and the ranges it had
// to skip.
func salvage(buf []byte, kind storeKind, num uint64) (kept [][]byte, dropped []ByteRange) {
	if _, err := checkHeader(buf, kind, num); err != nil {
		dropped = append(dropped, ByteRange{Off: 0, Len: int64(min(len(buf), segmentHeaderSize)), Why: "header: " + err.Error()})
	}
	off := segmentHeaderSize
	for off < len(buf) {
		_, n, err := readFrame(buf, off)
		if err == nil && n == 0 {
			if lastNonZero(buf, off) < 0 {
				break
			}
			err = frameError("non-zero bytes after a zero length")
		}
		if err == nil {
			kept = append(kept, buf[off:off+n])
			off += n
			continue
		}
		next := nextValid(buf, off+frameHeaderSize)
		end := next
		if next < 0 {
			end = lastNonZero(buf, off) + 1
		}
		dropped = append(dropped, ByteRange{Off: int64(off), Len: int64(end - off), Why: err.Error()})
		if next < 0 {
			break
		}
		off = next
	}
	return kept, dropped
}

// rewriteSegment backs up a damaged segment and replaces it, atomically,
// with a segment of the same size holding the kept records.
// With remove, the segment is only moved to the backup (or just removed
// when backedUp).
func rewriteSegment(path, backupDir string, orig []byte, kind storeKind, num uint64, kept [][]byte, remove, backedUp bool) error {
	if err := os.MkdirAll(backupDir, 0o755); err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	backup := filepath.Join(backupDir, filepath.Base(path))
	if !backedUp {
		if err := os.WriteFile(backup, orig, 0o644); err != nil {
			return fmt.Errorf("wal: repair: back up %s: %w", path, err)
		}
	}
	if remove {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("wal: repair: %w", err)
		}
		return osFS{}.SyncDir(filepath.Dir(path))
	}
	size, _ := checkHeader(orig, kind, num)
	out := make([]byte, max(int64(len(orig)), segmentHeaderSize, size))
	copy(out, encodeHeader(kind, num, int64(len(out))))
	off := segmentHeaderSize
	for _, k := range kept {
		off += copy(out[off:], k)
	}
	clear(out[off:])
	tmp := path + tmpSuffix
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return fmt.Errorf("wal: repair: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: repair: fsync %s: %w", tmp, err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	return osFS{}.SyncDir(filepath.Dir(path))
}
