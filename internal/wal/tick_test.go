package wal

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// TestTicksSurviveRestartAndCompaction: the newest tick of each schedule
// is recovered, after a restart and after the churn that compacts every
// segment that held it; older ticks and the ids they name are not lost
// either (ids are never reused).
func TestTicksSurviveRestartAndCompaction(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, rec := openLog(t, o)
	if len(rec.Ticks) != 0 {
		t.Fatalf("new log has ticks %v", rec.Ticks)
	}
	a1, a2, b1 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	cm, err := l.Tick("a", a1, 1)
	wait(t, cm, err)
	cm, err = l.Tick("b", b1, 2)
	wait(t, cm, err)
	cm, err = l.Tick("a", a2, 3) // no put follows: the put was lost
	wait(t, cm, err)
	mustClose(t, l)

	l, rec = openLog(t, o)
	if len(rec.Ticks) != 2 || !rec.Ticks["a"].Equal(a2) || !rec.Ticks["b"].Equal(b1) || rec.NextID < 4 {
		t.Fatalf("after restart: ticks %v, next id %d; want a=%v b=%v, next id above 3", rec.Ticks, rec.NextID, a2, b1)
	}
	// Churn through enough segments that the ones holding the ticks are
	// compacted away.
	body := strings.Repeat("b", 500)
	for i := range 2000 {
		id := job.ID(10 + i)
		cm, err := l.Put(newJob(id, body))
		wait(t, cm, err)
		cm, err = l.Delete(id)
		wait(t, cm, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	n, _ := segmentFiles(t, filepath.Join(dir, "hot"))
	if st.Compactions == 0 || n > 2 {
		t.Fatalf("%d compactions, %d hot segments: the first segment was not compacted", st.Compactions, n)
	}
	mustClose(t, l)
	l, rec = openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Ticks) != 2 || !rec.Ticks["a"].Equal(a2) || !rec.Ticks["b"].Equal(b1) {
		t.Fatalf("after compaction: ticks %v", rec.Ticks)
	}
}
