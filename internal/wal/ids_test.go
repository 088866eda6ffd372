package wal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// putsThenCut puts jobs 1..n under the given policy and closes; it returns
// the hot head's path and the offset of each job's put record.
func putsThenCut(t *testing.T, dir string, n job.ID) (string, map[job.ID]int) {
	t.Helper()
	l, _ := openLog(t, testOptions(dir))
	for id := job.ID(1); id <= n; id++ {
		cm, err := l.Put(newJob(id, fmt.Sprintf("job %d", id)))
		wait(t, cm, err)
	}
	mustClose(t, l)
	path := filepath.Join(dir, "hot", segmentName(1))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := map[job.ID]int{}
	for _, f := range recordsOf(b) {
		if f.r.typ == recPut {
			offs[f.r.id] = f.off
		}
	}
	return path, offs
}

// TestTornTailNamesItsRecords: a tail torn in the middle of job 40's put
// record is reported with the record and the job it cost, in Recovery
// and in the log's warning.
func TestTornTailNamesItsRecords(t *testing.T) {
	dir := t.TempDir()
	path, offs := putsThenCut(t, dir, 40)
	b, _ := os.ReadFile(path)
	cut := offs[40] + 12 // the frame header and the payload's start survive
	clear(b[cut:])
	os.WriteFile(path, b, 0o644)

	var logs syncBuffer
	o := testOptions(dir)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != 39 {
		t.Fatalf("%d jobs after the torn tail, want 39", len(rec.Jobs))
	}
	want := LostRecord{File: path, Offset: int64(offs[40]), Type: "put", JobID: 40}
	if len(rec.Lost) != 1 || rec.Lost[0] != want {
		t.Fatalf("lost records %+v, want %+v", rec.Lost, want)
	}
	if len(rec.TornTails) != 1 || !strings.Contains(rec.TornTails[0], "1 record(s) of job(s) 40") {
		t.Fatalf("torn tails %q do not name the record and job", rec.TornTails)
	}
	for _, w := range []string{`msg="wal: torn tail truncated"`, "records=1", "jobs=40", fmt.Sprintf("offset=%d", offs[40])} {
		if !strings.Contains(logs.String(), w) {
			t.Fatalf("warning lacks %q:\n%s", w, logs.String())
		}
	}
}

// TestIDsNeverGoBackAfterATornTail: puts 1..60 were acknowledged, then
// the tail from job 30 on is lost (power loss under "interval", or a
// copy cut short): the next put must not get an id that was handed out.
func TestIDsNeverGoBackAfterATornTail(t *testing.T) {
	dir := t.TempDir()
	path, offs := putsThenCut(t, dir, 60)
	b, _ := os.ReadFile(path)
	clear(b[offs[30]+5:])
	os.WriteFile(path, b, 0o644)
	l, rec := openLog(t, testOptions(dir))
	defer mustClose(t, l)
	if len(rec.Jobs) != 29 {
		t.Fatalf("%d jobs after the cut, want 29", len(rec.Jobs))
	}
	if rec.NextID <= 60 {
		t.Fatalf("next id %d after a torn tail: ids up to 60 were handed out", rec.NextID)
	}
}

// TestIDMarksRunAhead: across many puts and restarts the high-water mark
// stays ahead of every id put, by whole steps, whatever is cut.
func TestIDMarksRunAhead(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.SegmentSize = 1 << 20
	var top job.ID
	for round := 0; round < 3; round++ {
		l, rec := openLog(t, o)
		if rec.NextID <= top {
			t.Fatalf("round %d: next id %d, not above %d", round, rec.NextID, top)
		}
		for i := job.ID(0); i < idStep; i++ {
			id := rec.NextID + i
			cm, err := l.Put(newJob(id, ""))
			if err != nil {
				t.Fatal(err)
			}
			if i == idStep-1 {
				wait(t, cm, nil)
			}
			top = id
			l.mu.Lock()
			hw := l.hw
			l.mu.Unlock()
			if hw <= id+idStep/2-1 {
				t.Fatalf("put %d: high-water mark %d is not half a step ahead", id, hw)
			}
		}
		mustClose(t, l)
	}
}

// TestFileIsTheSegment: File gives the segment holding the job's put,
// follows compaction and burial, and is 0 for a job the log does not
// hold.
func TestFileIsTheSegment(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, testOptions(dir))
	defer mustClose(t, l)
	for id := job.ID(1); id <= 120; id++ {
		cm, err := l.Put(newJob(id, strings.Repeat("f", 1024)))
		wait(t, cm, err)
	}
	if f := l.File(1); f != 1 {
		t.Fatalf("job 1 in segment %d, want 1", f)
	}
	if f := l.File(120); f < 2 {
		t.Fatalf("job 120 in segment %d, want a later one", f)
	}
	// Deleting the jobs between makes compaction move job 1.
	for id := job.ID(2); id < 120; id++ {
		cm, err := l.Delete(id)
		wait(t, cm, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if f := l.File(1); f != int(st.HeadSegment) || st.OldestSegment == 1 {
		t.Fatalf("job 1 in segment %d after compaction (head %d, oldest %d), want the head", f, st.HeadSegment, st.OldestSegment)
	}
	bur := newJob(120, strings.Repeat("f", 1024))
	bur.State = job.Buried
	cm, err := l.Update(bur)
	wait(t, cm, err)
	if f := l.File(120); f != int(l.Stats().Buried.PerSegment[0].Num) {
		t.Fatalf("buried job 120 in segment %d, want the buried store's", f)
	}
	if f := l.File(2); f != 0 {
		t.Fatalf("deleted job 2 in segment %d, want 0", f)
	}
}
