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
	// Damaged lists the segments that were rewritten.
	Damaged []DamagedSegment
	// BackupDir holds the original of every damaged segment ("" if none).
	BackupDir string
}

// DamagedSegment is one segment Repair rewrote.
type DamagedSegment struct {
	Path string
	// Kept counts the records salvaged; Dropped the unreadable byte ranges.
	Kept    int
	Dropped []ByteRange
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
	if len(r.Damaged) == 0 {
		b.WriteString("no damage found; nothing changed\n")
		return b.String()
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(&b, "%s: kept %d records, dropped:\n", d.Path, d.Kept)
		for _, x := range d.Dropped {
			fmt.Fprintf(&b, "  %d bytes at offset %d (%s)\n", x.Len, x.Off, x.Why)
		}
	}
	fmt.Fprintf(&b, "originals kept in %s\n", r.BackupDir)
	b.WriteString("dropped records may have held puts (those jobs are lost), updates (older states come back) or deletes (deleted jobs come back)\n")
	return b.String()
}

// Repair salvages every readable record of the data directory dir. Each
// damaged segment is copied to a backup directory inside dir and rewritten
// with its readable records only (records do not depend on their
// position, see doc.go). With dryRun it only reports. It takes the
// directory's lock, so it refuses to run beside a server.
func Repair(dir string, dryRun bool) (*RepairReport, error) {
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlockDir(lock)
	rep := &RepairReport{}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, kind := range []storeKind{hot, buried} {
		sdir := filepath.Join(dir, kind.String())
		if _, err := os.Stat(sdir); os.IsNotExist(err) {
			continue
		}
		nums, err := listSegments(sdir)
		if err != nil {
			return rep, err
		}
		for _, num := range nums {
			path := filepath.Join(sdir, segmentName(num))
			buf, err := os.ReadFile(path)
			if err != nil {
				return rep, fmt.Errorf("wal: repair: %w", err)
			}
			rep.Segments++
			kept, dropped := salvage(buf, kind, num)
			rep.Records += len(kept)
			if len(dropped) == 0 {
				continue
			}
			rep.Damaged = append(rep.Damaged, DamagedSegment{Path: path, Kept: len(kept), Dropped: dropped})
			if dryRun {
				continue
			}
			rep.BackupDir = filepath.Join(dir, "repair-"+stamp)
			if err := rewriteSegment(path, filepath.Join(rep.BackupDir, kind.String()), buf, kind, num, kept); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// salvage returns the readable frames of a segment and the ranges it had
// to skip.
func salvage(buf []byte, kind storeKind, num uint64) (kept [][]byte, dropped []ByteRange) {
	if err := checkHeader(buf, kind, num); err != nil {
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
func rewriteSegment(path, backupDir string, orig []byte, kind storeKind, num uint64, kept [][]byte) error {
	if err := os.MkdirAll(backupDir, 0o755); err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	backup := filepath.Join(backupDir, filepath.Base(path))
	if err := os.WriteFile(backup, orig, 0o644); err != nil {
		return fmt.Errorf("wal: repair: back up %s: %w", path, err)
	}
	out := make([]byte, max(len(orig), segmentHeaderSize))
	copy(out, encodeHeader(kind, num))
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
