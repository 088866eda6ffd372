package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// sealedLog writes 200 jobs of 1 KiB into 64 KiB segments (four sealed
// segments and an active one) and returns the directory.
func sealedLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l, _ := openLog(t, testOptions(dir))
	for id := job.ID(1); id <= 200; id++ {
		cm, err := l.Put(newJob(id, strings.Repeat("s", 1024)))
		wait(t, cm, err)
	}
	mustClose(t, l)
	if n := len(hotSegments(t, dir)); n < 4 {
		t.Fatalf("%d hot segments, want at least 4", n)
	}
	return dir
}

// hotSegments lists the hot segments of dir.
func hotSegments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "hot", "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openCorrupt opens dir and wants ErrCorrupt whose message holds every
// one of want.
func openCorrupt(t *testing.T, dir string, want ...string) {
	t.Helper()
	l, _, err := Open(testOptions(dir))
	if err == nil {
		l.Close()
		t.Fatalf("Open of a damaged directory succeeded; want ErrCorrupt with %q", want)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	for _, w := range append(want, "reprieve repair --data "+dir) {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("Open: %q does not say %q", err, w)
		}
	}
}

// framed is a record of a segment and its offset.
type framed struct {
	off int
	r   record
}

// recordsOf returns the readable records of a segment, up to the first
// bad frame or the end.
func recordsOf(seg []byte) []framed {
	var out []framed
	for off := segmentHeaderSize; ; {
		r, n, err := readFrame(seg, off)
		if err != nil || n == 0 {
			return out
		}
		out = append(out, framed{off, r})
		off += n
	}
}

// lastRecordOffset returns the offset of the last record of a segment.
func lastRecordOffset(t *testing.T, seg []byte) int {
	t.Helper()
	recs := recordsOf(seg)
	if len(recs) == 0 {
		t.Fatal("segment without records")
	}
	return recs[len(recs)-1].off
}

// TestMissingSealedSegment: a sealed segment that is gone stops the start
// with its name; repair records it as dropped and the rest comes back.
func TestMissingSealedSegment(t *testing.T) {
	dir := sealedLog(t)
	segs := hotSegments(t, dir)
	gone, err := os.ReadFile(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	lost := map[job.ID]bool{}
	for _, f := range recordsOf(gone) {
		if f.r.typ == recPut {
			lost[f.r.id] = true
		}
	}
	os.Remove(segs[1])
	openCorrupt(t, dir, segs[1], "is missing")

	rep, err := Repair(dir, false)
	if err != nil || len(rep.Missing) != 1 || rep.Missing[0] != segs[1] {
		t.Fatalf("repair: %+v, %v", rep, err)
	}
	if !strings.Contains(rep.String(), segs[1]+" is missing") {
		t.Fatalf("repair report does not name the missing segment:\n%s", rep)
	}
	l, rec := openLog(t, testOptions(dir))
	defer mustClose(t, l)
	got := jobsByID(rec)
	if len(got) != 200-len(lost) || len(lost) == 0 {
		t.Fatalf("after repair %d jobs, want %d (200 less the %d of the missing segment)", len(got), 200-len(lost), len(lost))
	}
	for id := range lost {
		if got[id] != nil {
			t.Fatalf("job %d of the missing segment came back", id)
		}
	}
	if rec.NextID <= 200 {
		t.Fatalf("next id %d after losing a segment: ids would be reused", rec.NextID)
	}
}

// TestTruncatedSealedSegment: a sealed segment cut short, at a record
// boundary or in a record, is damage, not a torn tail.
func TestTruncatedSealedSegment(t *testing.T) {
	for _, cut := range []string{"boundary", "record", "zeros"} {
		t.Run(cut, func(t *testing.T) {
			dir := sealedLog(t)
			seg := hotSegments(t, dir)[1]
			b, _ := os.ReadFile(seg)
			last := lastRecordOffset(t, b)
			_, n, _ := readFrame(b, last)
			if cut == "zeros" && len(b)-(last+n) < 16 {
				t.Skip("the segment has no zeros after its records")
			}
			size := map[string]int{"boundary": last, "record": last + 20, "zeros": (last + n + len(b)) / 2}[cut]
			if err := os.Truncate(seg, int64(size)); err != nil {
				t.Fatal(err)
			}
			openCorrupt(t, dir, seg, fmt.Sprintf("offset %d", size), "cut short")
			rep, err := Repair(dir, false)
			if err != nil || len(rep.Damaged) != 1 || rep.Damaged[0].Path != seg {
				t.Fatalf("repair: %+v, %v", rep, err)
			}
			l, rec := openLog(t, testOptions(dir))
			defer mustClose(t, l)
			if n := len(rec.Jobs); n > 200 || (cut == "zeros" && n != 200) || (cut != "zeros" && n != 199) {
				t.Fatalf("after repair of a cut at a %s: %d jobs", cut, n)
			}
		})
	}
}

// TestFlippedSealedSegment: a bit flip in the last record of a sealed
// segment is damage (it used to be zeroed as a torn tail), named with its
// file, offset and job.
func TestFlippedSealedSegment(t *testing.T) {
	dir := sealedLog(t)
	seg := hotSegments(t, dir)[2]
	b, _ := os.ReadFile(seg)
	last := lastRecordOffset(t, b)
	r, _, _ := readFrame(b, last)
	b[last+frameHeaderSize+30] ^= 0x10
	os.WriteFile(seg, b, 0o644)
	openCorrupt(t, dir, seg, fmt.Sprintf("offset %d", last), "sealed segment", fmt.Sprintf("job(s) %d", r.id))
	if after, _ := os.ReadFile(seg); string(after) != string(b) {
		t.Fatal("the failed start changed the damaged segment")
	}
}

// TestZeroedSealedSegment: a sealed segment whose records are all zeros
// is damage; repair moves it away and records it as dropped.
func TestZeroedSealedSegment(t *testing.T) {
	dir := sealedLog(t)
	seg := hotSegments(t, dir)[1]
	b, _ := os.ReadFile(seg)
	clear(b[segmentHeaderSize:])
	os.WriteFile(seg, b, 0o644)
	openCorrupt(t, dir, seg, "holds no records")
	rep, err := Repair(dir, false)
	if err != nil || len(rep.Damaged) != 1 {
		t.Fatalf("repair: %+v, %v", rep, err)
	}
	if _, err := os.Stat(seg); !os.IsNotExist(err) {
		t.Fatalf("the zeroed segment is still there: %v", err)
	}
	l, _ := openLog(t, testOptions(dir))
	mustClose(t, l)
}

// TestDroppedSegmentLeftBehind: a crash after compaction's drop record
// but before the file's removal leaves the segment behind; the start
// removes it and the jobs deleted meanwhile stay deleted.
func TestDroppedSegmentLeftBehind(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, _ := openLog(t, o)
	for id := job.ID(1); id <= 200; id++ {
		cm, err := l.Put(newJob(id, strings.Repeat("d", 1024)))
		wait(t, cm, err)
	}
	first := hotSegments(t, dir)[0]
	saved, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	// Delete every job of the first segment: compaction removes it.
	deleted := map[job.ID]bool{}
	for id := job.ID(1); id <= 200; id++ {
		if l.File(id) != 1 {
			continue
		}
		cm, err := l.Delete(id)
		wait(t, cm, err)
		deleted[id] = true
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("compaction left %s: %v", first, err)
	}
	os.WriteFile(first, saved, 0o644)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("the start kept the dropped segment %s: %v", first, err)
	}
	for _, j := range rec.Jobs {
		if deleted[j.ID] {
			t.Fatalf("deleted job %d came back with the dropped segment", j.ID)
		}
	}
	if len(deleted) == 0 || len(rec.Jobs) != 200-len(deleted) {
		t.Fatalf("%d jobs after restart, want 200 less the %d deleted", len(rec.Jobs), len(deleted))
	}
}

// TestVersion1Readable: a data directory written by format version 1
// (no size in the header, plain marks) opens, and the log goes on in
// version 2.
func TestVersion1Readable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "hot"), 0o755)
	seg := make([]byte, MinSegmentSize)
	h := withVersion(encodeHeader(hot, 1, 0), 1)
	copy(seg, h)
	recs := appendMark(nil, 1, 1)
	recs = appendPut(recs, 2, newJob(1, "one"))
	recs = appendPut(recs, 3, newJob(2, "two"))
	recs = appendTomb(recs, recDelete, 4, 1, 1)
	copy(seg[segmentHeaderSize:], recs)
	os.WriteFile(filepath.Join(dir, "hot", segmentName(1)), seg, 0o644)
	o := testOptions(dir)
	l, rec := openLog(t, o)
	if len(rec.Jobs) != 1 || rec.Jobs[0].ID != 2 || string(rec.Jobs[0].Body) != "two" || rec.NextID != 3 {
		t.Fatalf("version 1 log: %d jobs, next id %d", len(rec.Jobs), rec.NextID)
	}
	for id := job.ID(3); id <= 150; id++ {
		cm, err := l.Put(newJob(id, strings.Repeat("v", 1024)))
		wait(t, cm, err)
	}
	mustClose(t, l)
	b, _ := os.ReadFile(filepath.Join(dir, "hot", segmentName(2)))
	if size, err := checkHeader(b, hot, 2); err != nil || size != MinSegmentSize {
		t.Fatalf("new segment: size %d, %v; want a version 2 header", size, err)
	}
	l, rec = openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != 149 {
		t.Fatalf("after going on in version 2: %d jobs, want 149", len(rec.Jobs))
	}
}
