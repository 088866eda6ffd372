package wal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenRecords are the records of the golden file, one of each kind.
func goldenRecords() []struct {
	name string
	b    []byte
} {
	full := &job.Job{
		ID: 42, Tube: "emails", Priority: 1024, Delay: 90 * time.Second, TTR: 2 * time.Minute,
		Body: []byte("hello\r\nworld"), State: job.Delayed, Created: t0, Deadline: t0.Add(90 * time.Second),
		Reserves: 3, Timeouts: 1, Releases: 2, Buries: 0, Kicks: 0,
		Failure: &job.Failure{Attempts: 2, FirstError: "smtp: timeout", LastError: "smtp: 451", FirstAt: t0,
			LastAt: t0.Add(time.Minute), RetryFrom: t0, Origin: "emails", GaveUp: "", Kicks: 0},
	}
	plain := &job.Job{ID: 7, Tube: "default", Priority: 0, TTR: time.Second, Body: nil, State: job.Ready, Created: t0}
	upd := *full
	upd.State, upd.Deadline, upd.Tube = job.Buried, t0.Add(time.Hour), "emails-dead"
	return []struct {
		name string
		b    []byte
	}{
		{"put", appendPut(nil, 1, full)},
		{"put-minimal", appendPut(nil, 2, plain)},
		{"update", appendUpdate(nil, 3, &upd)},
		{"delete", appendTomb(nil, recDelete, 4, 42, 9)},
		{"gone", appendTomb(nil, recGone, 5, 7, 1)},
		{"mark", appendMark(nil, 6, 43)},
		{"head-mark", appendHeadMark(nil, 7, 16427, []uint64{1, 3, 300})},
		{"head-mark-empty", appendHeadMark(nil, 8, 1, nil)},
		{"drop", appendDrop(nil, 9, 2)},
	}
}

// TestGoldenEncoding pins the on-disk format: a change to the encoding
// must be deliberate (a new format version), not an accident.
func TestGoldenEncoding(t *testing.T) {
	var sb strings.Builder
	for _, r := range goldenRecords() {
		sb.WriteString("# " + r.name + "\n" + hex.Dump(r.b))
	}
	sb.WriteString("# segment header, hot store, segment 3\n" + hex.Dump(encodeHeader(hot, 3, 1<<20)))
	path := filepath.Join("testdata", "records.golden")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("encoding differs from %s:\n%s", path, sb.String())
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range goldenRecords() {
		t.Run(r.name, func(t *testing.T) {
			if len(r.b)%8 != 0 {
				t.Fatalf("frame of %d bytes is not padded to 8", len(r.b))
			}
			got, n, err := readFrame(r.b, 0)
			if err != nil || n != len(r.b) {
				t.Fatalf("readFrame: n=%d err=%v", n, err)
			}
			var again []byte
			switch got.typ {
			case recPut:
				again = appendPut(nil, got.seq, got.job)
			case recUpdate:
				again = appendUpdate(nil, got.seq, got.job)
			case recDelete, recGone:
				again = appendTomb(nil, got.typ, got.seq, got.id, got.putSeg)
			case recMark:
				again = remark(got)
			case recDrop:
				again = appendDrop(nil, got.seq, got.putSeg)
			}
			if !bytes.Equal(again, r.b) {
				t.Fatalf("re-encoding differs:\n%x\n%x", again, r.b)
			}
		})
	}
}

// remark re-encodes a decoded mark.
func remark(r record) []byte {
	if r.hasList {
		return appendHeadMark(nil, r.seq, r.id, r.segs)
	}
	return appendMark(nil, r.seq, r.id)
}

func TestFrameErrors(t *testing.T) {
	good := appendTomb(nil, recDelete, 4, 42, 9)
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"checksum", func(b []byte) []byte { b[9] ^= 1; return b }, "checksum mismatch"},
		{"length past end", func(b []byte) []byte { b[0] = 200; return b }, "runs past the end"},
		{"zero length, non-zero checksum", func(b []byte) []byte { b[0], b[1], b[2], b[3] = 0, 0, 0, 0; return b }, "zero length"},
		{"unknown type", func(b []byte) []byte { return appendFrame(nil, func(p []byte) []byte { return append(p, 99, 1, 1) }) }, "bad type"},
		{"seq zero", func(b []byte) []byte {
			return appendFrame(nil, func(p []byte) []byte { return append(p, recDelete, 0, 1, 1) })
		}, "bad seq"},
		{"trailing bytes", func(b []byte) []byte {
			return appendFrame(nil, func(p []byte) []byte { return append(p, recDelete, 1, 1, 1, 5) })
		}, "trailing"},
		{"truncated varint", func(b []byte) []byte {
			return appendFrame(nil, func(p []byte) []byte { return append(p, recDelete, 1, 0x80) })
		}, "bad id"},
		{"bad state", func(b []byte) []byte {
			j := newJob(1, "x")
			j.State = 9
			return appendPut(nil, 1, j)
		}, "bad state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mut(append([]byte(nil), good...))
			_, _, err := readFrame(b, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("readFrame: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	h := encodeHeader(hot, 3, 1<<20)
	if _, err := checkHeader(h, hot, 3); err != nil {
		t.Fatalf("valid header: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		kind storeKind
		num  uint64
		want string
	}{
		{"short", h[:10], hot, 3, "shorter"},
		{"magic", append([]byte("XXXXXXXX"), h[8:]...), hot, 3, "bad magic"},
		{"store", h, buried, 3, "another store"},
		{"number", h, hot, 4, "named for 4"},
		{"version", withVersion(h, 3), hot, 3, "format version 3"},
	} {
		if _, err := checkHeader(tc.b, tc.kind, tc.num); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzReadFrame feeds arbitrary bytes to the record decoder: it must never
// panic, and whatever it accepts must re-encode to a frame it reads back
// as the same record.
func FuzzReadFrame(f *testing.F) {
	for _, r := range goldenRecords() {
		f.Add(r.b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := readFrame(b, 0)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) {
			t.Fatalf("frame size %d beyond input %d", n, len(b))
		}
		var again []byte
		switch r.typ {
		case recPut:
			again = appendPut(nil, r.seq, r.job)
		case recUpdate:
			again = appendUpdate(nil, r.seq, r.job)
		case recDelete, recGone:
			again = appendTomb(nil, r.typ, r.seq, r.id, r.putSeg)
		case recMark:
			again = remark(r)
		case recDrop:
			again = appendDrop(nil, r.seq, r.putSeg)
		default:
			t.Fatalf("accepted unknown type %d", r.typ)
		}
		r2, _, err := readFrame(again, 0)
		if err != nil || r2.typ != r.typ || r2.seq != r.seq || r2.id != r.id || r2.putSeg != r.putSeg || !slices.Equal(r2.segs, r.segs) {
			t.Fatalf("re-encoded record differs: %+v vs %+v (%v)", r2, r, err)
		}
	})
}

func TestLastNonZero(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		from int
		want int
	}{
		{nil, 0, -1},
		{make([]byte, 100), 0, -1},
		{append(make([]byte, 50), 1), 0, 50},
		{append(append(make([]byte, 50), 1), make([]byte, 37)...), 0, 50},
		{append(append(make([]byte, 50), 1), make([]byte, 37)...), 51, -1},
		{[]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 3, 10},
	} {
		if got := lastNonZero(tc.b, tc.from); got != tc.want {
			t.Errorf("lastNonZero(%d bytes, %d) = %d, want %d", len(tc.b), tc.from, got, tc.want)
		}
	}
}

// withVersion returns header h with another format version and a valid
// checksum.
func withVersion(h []byte, v uint16) []byte {
	b := append([]byte(nil), h...)
	binary.LittleEndian.PutUint16(b[8:], v)
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
	return b
}

// TestHeaderVersions: a version 2 header gives its preallocated size, a
// version 1 header (which has none) is still read, with size 0.
func TestHeaderVersions(t *testing.T) {
	h := encodeHeader(buried, 9, 256<<10)
	if size, err := checkHeader(h, buried, 9); err != nil || size != 256<<10 {
		t.Fatalf("version 2: size %d, %v", size, err)
	}
	old := withVersion(h, 1)
	clear(old[24:32])
	binary.LittleEndian.PutUint32(old[44:], crc32.Checksum(old[:44], castagnoli))
	if size, err := checkHeader(old, buried, 9); err != nil || size != 0 {
		t.Fatalf("version 1: size %d, %v", size, err)
	}
}
