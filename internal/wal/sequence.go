package wal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// This file holds the start's check of a store's segment sequence (see
// doc.go, "Segment sequence"): which segment is active, which must be
// there, and which compaction had emptied.

// segFile is a segment file found at start.
type segFile struct {
	num uint64
	// size is the size its header says it was preallocated to; 0 for a
	// version 1 segment, or when it was not read yet.
	size int64
	// buf holds its bytes when the scan read them.
	buf []byte
}

// storeFiles is what scanStore found: the segments to replay, in order;
// the index of the active segment (the last holding records, -1 for
// none) and of the head (the active one, or the first). A segment after
// the head is a spare.
type storeFiles struct {
	segs         []segFile
	active, head int
}

// headerError is the message for a segment whose header is wrong.
func (l *Log) headerError(path string, err error) error {
	return fmt.Errorf("%w: %s offset 0: %v; back up %s and run `reprieve repair --data %s`", ErrCorrupt, path, err, l.opts.Dir, l.opts.Dir)
}

// scanStore lists st's segments, finds the active one and checks the
// sequence: every segment the newest head mark lists, less those dropped
// since, must be there (ErrCorrupt names a missing one); one that is
// there but was dropped is removed.
func (l *Log) scanStore(st *store) (storeFiles, error) {
	nums, err := listSegments(st.dir)
	if err != nil {
		return storeFiles{}, err
	}
	fs := storeFiles{segs: make([]segFile, len(nums)), active: -1}
	read := func(i int) error {
		if fs.segs[i].buf != nil {
			return nil
		}
		path := filepath.Join(st.dir, segmentName(nums[i]))
		buf, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", path, err)
		}
		size, err := checkHeader(buf, st.kind, nums[i])
		if err != nil {
			return l.headerError(path, err)
		}
		fs.segs[i] = segFile{num: nums[i], size: size, buf: buf}
		return nil
	}
	for i, n := range nums {
		fs.segs[i].num = n
	}
	for i := len(nums) - 1; i >= 0 && fs.active < 0; i-- {
		if err := read(i); err != nil {
			return storeFiles{}, err
		}
		if lastNonZero(fs.segs[i].buf, segmentHeaderSize) >= 0 {
			fs.active = i
		}
	}
	fs.head = max(fs.active, 0)
	var remove []int
	for i := fs.active; i >= 0 && i >= fs.active-1; i-- {
		if err := read(i); err != nil {
			return storeFiles{}, err
		}
	}
	seq := sequenceOf(nums, func(i int) []byte { return fs.segs[i].buf }, fs.active)
	if seq.mark >= 0 {
		for _, n := range seq.missing {
			return storeFiles{}, fmt.Errorf("%w: %s is missing: %s (the head mark at offset %d) lists it and no drop record followed; a sealed segment was lost; restore it from a backup, or run `reprieve repair --data %s` to start without its jobs",
				ErrCorrupt, filepath.Join(st.dir, segmentName(n)), filepath.Join(st.dir, segmentName(nums[seq.mark])), segmentHeaderSize, l.opts.Dir)
		}
		for i := 0; i < seq.mark; i++ {
			if !seq.expected[nums[i]] {
				remove = append(remove, i)
				if !seq.dropped[nums[i]] {
					l.logger.Warn("wal: a segment not listed by the head mark is removed", "file", filepath.Join(st.dir, segmentName(nums[i])))
				}
			}
		}
	}
	if len(remove) == 0 {
		return fs, nil
	}
	gone := map[int]bool{}
	for _, i := range remove {
		path := filepath.Join(st.dir, segmentName(nums[i]))
		if err := l.fs.Remove(path); err != nil {
			return storeFiles{}, fmt.Errorf("wal: remove %s: %w", path, err)
		}
		l.logger.Info("wal: removed a segment compaction had emptied", "file", path)
		gone[i] = true
	}
	if err := l.fs.SyncDir(st.dir); err != nil {
		return storeFiles{}, fmt.Errorf("wal: fsync %s: %w", st.dir, err)
	}
	headNum, hadActive := nums[fs.head], fs.active >= 0
	kept := fs.segs[:0]
	for i, sf := range fs.segs {
		if !gone[i] {
			kept = append(kept, sf)
		}
	}
	fs.segs, fs.active = kept, -1
	for i, sf := range kept {
		if sf.num == headNum {
			fs.head = i
			if hadActive {
				fs.active = i
			}
		}
	}
	return fs, nil
}

// sequence is what a store's newest head mark and the drop records after
// it say: the index of the segment holding that mark (-1: none, a
// version 1 log), the segments expected, those dropped, and the expected
// ones missing, in order.
type sequence struct {
	mark              int
	expected, dropped map[uint64]bool
	missing           []uint64
}

// sequenceOf reads the sequence of a store whose segments are nums;
// bufAt returns a segment's bytes (it is called for the active segment,
// its predecessor, and those between the mark and the active one).
func sequenceOf(nums []uint64, bufAt func(int) []byte, active int) sequence {
	seq := sequence{mark: -1}
	var listed []uint64
	for i := active; i >= 0 && i >= active-1; i-- {
		if r, n, err := readFrame(bufAt(i), segmentHeaderSize); err == nil && n > 0 && r.typ == recMark && r.hasList {
			seq.mark, listed = i, r.segs
			break
		}
	}
	if seq.mark < 0 {
		return seq
	}
	seq.expected = map[uint64]bool{nums[seq.mark]: true}
	for _, n := range listed {
		seq.expected[n] = true
	}
	seq.dropped = map[uint64]bool{}
	for i := seq.mark; i <= active; i++ {
		for _, n := range dropsIn(bufAt(i)) {
			seq.dropped[n] = true
			delete(seq.expected, n)
		}
	}
	present := map[uint64]bool{}
	for _, n := range nums {
		present[n] = true
	}
	for _, n := range listed {
		if seq.expected[n] && !present[n] {
			seq.missing = append(seq.missing, n)
		}
	}
	return seq
}

// dropsIn returns the segment numbers of the drop records in buf, walking
// the frames by their lengths without checking them (replay does).
func dropsIn(buf []byte) []uint64 {
	var nums []uint64
	for off := segmentHeaderSize; off+frameHeaderSize < len(buf); {
		n := int(binary.LittleEndian.Uint32(buf[off:]))
		if n == 0 || n > len(buf)-off-frameHeaderSize {
			break
		}
		if buf[off+frameHeaderSize] == recDrop {
			if r, _, err := readFrame(buf, off); err == nil && r.typ == recDrop {
				nums = append(nums, r.putSeg)
			}
		}
		off += padded(n + frameHeaderSize)
	}
	return nums
}

// startMarks gives every store a head and writes, fsync'd before any
// other record, the marks a start needs (see doc.go, "Job ids"): a head
// mark in an empty head, and a mark of a new id high-water mark a step
// ahead, so that the first puts need no fsync of their own. That mark
// goes to the buried store, whose head is rarely dirty after a kill
// (fsyncing the hot head could write out seconds of unsynced records),
// or else to the hot log; on a full disk it may fit in neither, and the
// first put then waits for an fsync. l.mu is held and nothing is
// pending.
func (l *Log) startMarks() error {
	l.hw, l.durableHW = l.nextID+idStep, l.nextID
	durable := false
	for _, k := range []storeKind{buried, hot} {
		st := l.stores[k]
		if len(st.segs) == 0 {
			if err := l.allocate(st); err != nil {
				return fmt.Errorf("wal: start the %s store: %w", st.kind, err)
			}
			s := st.spares[0]
			st.spares = st.spares[1:]
			st.segs = append(st.segs, s)
			st.byNum[s.num] = s
		}
		head := st.head()
		var m []byte
		switch {
		case head.used == segmentHeaderSize:
			var nums []uint64
			for _, g := range st.segs[:len(st.segs)-1] {
				nums = append(nums, g.num)
			}
			l.seq++
			m = appendHeadMark(nil, l.seq, l.hw, nums)
		case !durable && head.size-head.used-int64(padded(frameHeaderSize+21)) >= st.owed():
			l.seq++
			m = appendMark(nil, l.seq, l.hw)
		default:
			continue
		}
		if _, err := head.f.WriteAt(m, head.used); err != nil {
			return fmt.Errorf("wal: write a mark to %s: %w", head.path, err)
		}
		if err := head.f.Sync(); err != nil {
			return fmt.Errorf("wal: fsync %s: %w", head.path, err)
		}
		head.used += int64(len(m))
		head.written = head.used
		durable = true
	}
	if durable {
		l.durableHW = l.hw
	}
	return nil
}
