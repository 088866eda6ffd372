package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// segmentHeaderSize is the fixed header in front of a segment's records.
const segmentHeaderSize = 48

const (
	segmentMagic   = "RPRVWAL\n"
	formatVersion  = 2 // written by this version; version 1 is still read
	oldVersion     = 1
	segmentSuffix  = ".wal"
	tmpSuffix      = ".tmp"
	storeHotByte   = 1
	storeBuriedByt = 2
)

// storeKind names one of the two stores of a data directory.
type storeKind uint8

const (
	hot storeKind = iota
	buried
)

func (k storeKind) String() string {
	if k == buried {
		return "buried"
	}
	return "hot"
}

func (k storeKind) headerByte() byte {
	if k == buried {
		return storeBuriedByt
	}
	return storeHotByte
}

// segment is one file of a store. Its fields are guarded by Log.mu except
// f, which is set once, and written, which only the writer goroutine
// touches.
type segment struct {
	num  uint64
	path string
	f    file
	// size is the preallocated size of the file.
	size int64
	// used is the offset after the last record placed (written or pending).
	used int64
	// written is the offset up to which records are in the file; only the
	// writer goroutine reads or sets it.
	written int64
	// live counts the bytes of live records (see doc.go).
	live int64
	// tombs counts the bytes of delete and gone records in the segment:
	// with live, an upper bound on what compacting it copies.
	tombs int64
	// dropping is set once compaction has placed the segment's drop
	// record: a new head's mark no longer lists it.
	dropping bool
	// writes counts the writes to the file; only the holder of the write
	// token touches it.
	writes uint64
	// synced is the value of writes that the last completed fsync covers;
	// the file has unsynced writes while it differs from writes. It is
	// atomic because the interval fsync runs without the write token.
	synced atomic.Uint64
}

// dirty tells whether s has writes not yet fsync'd. The write token is
// held.
func (s *segment) dirty() bool { return s.writes != s.synced.Load() }

// markSynced records that an fsync covered s's first n writes.
func (s *segment) markSynced(n uint64) {
	for {
		old := s.synced.Load()
		if old >= n || s.synced.CompareAndSwap(old, n) {
			return
		}
	}
}

func segmentName(num uint64) string { return fmt.Sprintf("%016x%s", num, segmentSuffix) }

// parseSegmentName returns the sequence number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil && n > 0
}

// encodeHeader returns the header of segment num of a store, whose file
// is preallocated to size bytes.
func encodeHeader(kind storeKind, num uint64, size int64) []byte {
	h := make([]byte, segmentHeaderSize)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint16(h[8:], formatVersion)
	h[10] = kind.headerByte()
	binary.LittleEndian.PutUint64(h[16:], num)
	binary.LittleEndian.PutUint64(h[24:], uint64(size))
	binary.LittleEndian.PutUint32(h[44:], crc32.Checksum(h[:44], castagnoli))
	return h
}

// checkHeader validates a segment's header against its store and name and
// returns the size the file was preallocated to (0 for a version 1
// segment, whose header does not say).
func checkHeader(h []byte, kind storeKind, num uint64) (int64, error) {
	if len(h) < segmentHeaderSize {
		return 0, fmt.Errorf("file is %d bytes, shorter than a segment header", len(h))
	}
	if string(h[:8]) != segmentMagic {
		return 0, fmt.Errorf("not a reprieve log segment (bad magic)")
	}
	if crc32.Checksum(h[:44], castagnoli) != binary.LittleEndian.Uint32(h[44:]) {
		return 0, fmt.Errorf("segment header checksum mismatch")
	}
	v := binary.LittleEndian.Uint16(h[8:])
	if v != formatVersion && v != oldVersion {
		return 0, fmt.Errorf("segment format version %d, this reprieve reads versions %d and %d", v, oldVersion, formatVersion)
	}
	if h[10] != kind.headerByte() {
		return 0, fmt.Errorf("segment belongs to another store (store byte %d)", h[10])
	}
	if n := binary.LittleEndian.Uint64(h[16:]); n != num {
		return 0, fmt.Errorf("header says segment %d but the file is named for %d", n, num)
	}
	if v == oldVersion {
		return 0, nil
	}
	size := binary.LittleEndian.Uint64(h[24:])
	if size < segmentHeaderSize || size > 1<<40 {
		return 0, fmt.Errorf("header gives an impossible segment size %d", size)
	}
	return int64(size), nil
}

// createSegment builds a preallocated segment atomically: a .tmp file is
// allocated, given its header and fsync'd, then renamed into place and
// the directory fsync'd.
func createSegment(fs fileSystem, dir string, kind storeKind, num uint64, size int64) (*segment, error) {
	path := filepath.Join(dir, segmentName(num))
	tmp := path + tmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("wal: create segment: %w", err)
	}
	fail := func(err error) (*segment, error) {
		f.Close()
		fs.Remove(tmp)
		return nil, err
	}
	if err := fs.Allocate(f, size); err != nil {
		return fail(fmt.Errorf("wal: preallocate %s (%d bytes): %w", path, size, err))
	}
	if _, err := f.WriteAt(encodeHeader(kind, num, size), 0); err != nil {
		return fail(fmt.Errorf("wal: write segment header: %w", err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("wal: fsync new segment: %w", err))
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("wal: rename new segment: %w", err))
	}
	if err := fs.SyncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: fsync directory %s: %w", dir, err)
	}
	return &segment{num: num, path: path, f: f, size: size, used: segmentHeaderSize, written: segmentHeaderSize}, nil
}

// listSegments returns the sequence numbers of dir's segments in order and
// removes leftover .tmp files of interrupted segment creations.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list segments: %w", err)
	}
	var nums []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, segmentSuffix+tmpSuffix) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if n, ok := parseSegmentName(name); ok {
			nums = append(nums, n)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums, nil
}
