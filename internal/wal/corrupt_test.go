package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// op is one change of the corruption tests' script.
type op struct {
	kind string // put, update, delete
	id   job.ID
	pri  uint32
}

var script = []op{
	{"put", 1, 0}, {"put", 2, 0}, {"put", 3, 0}, {"put", 4, 0}, {"put", 5, 0},
	{"update", 2, 7}, {"delete", 3, 0}, {"update", 4, 9}, {"put", 6, 0},
	{"delete", 1, 0}, {"update", 6, 5}, {"update", 2, 8}, {"put", 7, 0},
}

// model applies the first n ops of the script: id -> priority.
func model(n int) map[job.ID]uint32 {
	m := map[job.ID]uint32{}
	for _, o := range script[:n] {
		switch o.kind {
		case "put":
			m[o.id] = 1024
		case "update":
			m[o.id] = o.pri
		case "delete":
			delete(m, o.id)
		}
	}
	return m
}

func bodyOf(id job.ID) string {
	return fmt.Sprintf("body of job %d ", id) + strings.Repeat("z", int(id)*11)
}

// writeScript runs the script against a fresh log and returns the hot
// head's bytes and the offsets of its records (the first is the head
// mark).
func writeScript(t *testing.T) (seg []byte, offs []int) {
	t.Helper()
	dir := t.TempDir()
	l, _ := openLog(t, testOptions(dir))
	for _, o := range script {
		var cm interface{ Wait() error }
		var err error
		switch o.kind {
		case "put":
			var c any
			c, err = l.Put(newJob(o.id, bodyOf(o.id)))
			cm, _ = c.(interface{ Wait() error })
		case "update":
			j := newJob(o.id, bodyOf(o.id))
			j.Priority = o.pri
			var c any
			c, err = l.Update(j)
			cm, _ = c.(interface{ Wait() error })
		case "delete":
			var c any
			c, err = l.Delete(o.id)
			cm, _ = c.(interface{ Wait() error })
		}
		wait(t, cm, err)
	}
	mustClose(t, l)
	seg, err := os.ReadFile(filepath.Join(dir, "hot", segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	for off := segmentHeaderSize; ; {
		_, n, err := readFrame(seg, off)
		if err != nil {
			t.Fatalf("pristine segment unreadable at %d: %v", off, err)
		}
		if n == 0 {
			break
		}
		offs = append(offs, off)
		off += n
	}
	if len(offs) != len(script)+1 {
		t.Fatalf("%d records in the segment, want %d", len(offs), len(script)+1)
	}
	return seg, offs
}

// openDamaged writes seg as the only hot segment of a new directory and
// opens it, capturing warnings.
func openDamaged(t *testing.T, seg []byte) (*Recovery, string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "hot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hot", segmentName(1)), seg, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	o := testOptions(dir)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l, rec, err := Open(o)
	if err != nil {
		return nil, logs.String(), err
	}
	mustClose(t, l)
	return rec, logs.String(), nil
}

// syncBuffer is a bytes.Buffer safe for the log's goroutines.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func checkModel(t *testing.T, rec *Recovery, n int, what string) {
	t.Helper()
	want := model(n)
	got := jobsByID(rec)
	if len(got) != len(want) {
		t.Fatalf("%s: recovered %d jobs, want %d (%v)", what, len(got), len(want), want)
	}
	for id, pri := range want {
		j := got[id]
		if j == nil || j.Priority != pri || string(j.Body) != bodyOf(id) {
			t.Fatalf("%s: job %d = %+v, want priority %d and its body", what, id, j, pri)
		}
	}
}

// TestCutAtEveryOffset cuts the segment at every record boundary and at
// several points inside every record: the start keeps exactly the records
// before the cut and reports a torn tail when bytes were dropped.
func TestCutAtEveryOffset(t *testing.T) {
	seg, offs := writeScript(t)
	end := offs[len(offs)-1]
	_, n, _ := readFrame(seg, end)
	end += n
	for i, off := range append(offs, end) {
		rec0 := i - 1     // script ops fully present before off (record 0 is the mark)
		framed := off + 1 // the end of the frame's header and payload
		if i < len(offs) {
			framed = off + frameHeaderSize + int(binary.LittleEndian.Uint32(seg[off:]))
		}
		for _, cut := range []int{off, off + 1, off + 4, off + 8, off + 13, framed - 1} {
			if cut > end || (cut != off && cut >= framed) {
				continue
			}
			rec, logs, err := openDamaged(t, seg[:cut])
			if err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			checkModel(t, rec, max(rec0, 0), fmt.Sprintf("cut at %d", cut))
			if torn := strings.Contains(logs, "torn tail"); torn != (cut != off) {
				t.Fatalf("cut at %d (record boundary %v): torn tail reported %v; logs: %s", cut, cut == off, torn, logs)
			}
		}
	}
}

// TestFlipEveryRecord flips a byte in the header and in the payload of
// every record: inside the last record it is a torn tail, before it the
// start stops with ErrCorrupt naming the file and the offset.
func TestFlipEveryRecord(t *testing.T) {
	seg, offs := writeScript(t)
	for i, off := range offs {
		_, n, _ := readFrame(seg, off)
		for _, at := range []int{off, off + 2, off + 5, off + frameHeaderSize, off + frameHeaderSize + 3, off + n - 9, off + n - 1} {
			if at < off || at >= off+n {
				continue
			}
			bad := append([]byte(nil), seg...)
			bad[at] ^= 0x5a
			rec, logs, err := openDamaged(t, bad)
			last := i == len(offs)-1
			if last {
				if err != nil {
					t.Fatalf("flip at %d in the last record: %v", at, err)
				}
				checkModel(t, rec, len(script)-1, fmt.Sprintf("flip at %d", at))
				if !strings.Contains(logs, "torn tail") {
					t.Fatalf("flip at %d in the last record: no torn tail reported: %s", at, logs)
				}
				continue
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d in record %d of %d: err %v, want ErrCorrupt", at, i, len(offs), err)
			}
			msg := err.Error()
			if !strings.Contains(msg, segmentName(1)) || !strings.Contains(msg, fmt.Sprintf("offset %d", off)) || !strings.Contains(msg, "reprieve repair --data") {
				t.Fatalf("flip at %d: message %q does not name the file, offset %d and the repair command", at, msg, off)
			}
		}
	}
}

// TestZeroedMiddleIsDamage zeroes a whole record in the middle: a zero
// length followed by records is damage, not an end.
func TestZeroedMiddleIsDamage(t *testing.T) {
	seg, offs := writeScript(t)
	bad := append([]byte(nil), seg...)
	_, n, _ := readFrame(seg, offs[3])
	clear(bad[offs[3] : offs[3]+n])
	_, _, err := openDamaged(t, bad)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", offs[3])) {
		t.Fatalf("zeroed record: %v", err)
	}
}

// TestTornTailIsZeroedAndAppendable checks that after a torn tail is
// truncated new records land where it was and the next start is clean.
func TestTornTailIsZeroedAndAppendable(t *testing.T) {
	seg, offs := writeScript(t)
	cut := offs[len(offs)-1] + 5
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "hot"), 0o755)
	full := append(append([]byte(nil), seg[:cut]...), bytes.Repeat([]byte{0xee}, 40)...)
	full = append(full, make([]byte, len(seg)-len(full))...)
	os.WriteFile(filepath.Join(dir, "hot", segmentName(1)), full, 0o644)
	o := testOptions(dir)
	l, rec := openLog(t, o)
	if len(rec.TornTails) != 1 {
		t.Fatalf("torn tails: %v", rec.TornTails)
	}
	cm, err := l.Put(newJob(100, "after the tear"))
	wait(t, cm, err)
	mustClose(t, l)
	l, rec = openLog(t, o)
	defer mustClose(t, l)
	if len(rec.TornTails) != 0 {
		t.Fatalf("second start found torn tails again: %v", rec.TornTails)
	}
	got := jobsByID(rec)
	if got[100] == nil || got[7] != nil || len(got) != len(model(len(script)-1))+1 {
		t.Fatalf("after tear and append: %v", got)
	}
}
