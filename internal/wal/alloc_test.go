package wal

import (
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// A put and its Wait from one committer allocate only the batch (the
// Commit and its done channel), under every policy: the record buffers
// and the list of segments to fsync are reused once the log is warm. This
// is a contract of the commit path (BenchmarkAppend reports the same
// count, plus the benchmark's own job).
func TestCommitAllocatesOnlyItsBatch(t *testing.T) {
	for _, p := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			o := Options{Dir: t.TempDir(), Fsync: p, Logger: quiet} // default segments: no rotation
			l, _ := openLog(t, o)
			j := newJob(0, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			put := func() {
				j.ID++
				cm, err := l.Put(j)
				wait(t, cm, err)
			}
			for range 10 { // the first id mark, the buffers' first growth
				put()
			}
			if got := testing.AllocsPerRun(200, put); got != 2 {
				t.Fatalf("%v allocations per put and Wait, want 2 (the batch and its channel)", got)
			}
			// The reused buffers wrote every record.
			mustClose(t, l)
			l, rec := openLog(t, o)
			defer mustClose(t, l)
			if len(rec.Jobs) != int(j.ID) {
				t.Fatalf("after reopening: %d jobs, want %d", len(rec.Jobs), j.ID)
			}
			for i, r := range rec.Jobs {
				sameJob(t, r, &job.Job{ID: job.ID(i + 1), Tube: j.Tube, Priority: j.Priority, TTR: j.TTR, Body: j.Body, State: j.State, Created: j.Created})
			}
		})
	}
}
