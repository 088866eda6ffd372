package wal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// segmentFiles counts the segment files of a store on disk and their size.
func segmentFiles(t *testing.T, dir string) (int, int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var size int64
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segmentSuffix) {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n++
			size += info.Size()
		}
	}
	return n, size
}

// TestOneBuriedJobThenChurn is seed 003's workload: one job is buried,
// then many jobs are put and deleted. The hot log must stay within two
// segments and the buried job in its own store, untouched by the churn.
func TestOneBuriedJobThenChurn(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, _ := openLog(t, o)
	poison := newJob(1, "the job that failed")
	cm, err := l.Put(poison)
	wait(t, cm, err)
	poison.State, poison.Buries, poison.Deadline = job.Buried, 1, t0
	cm, err = l.Update(poison)
	wait(t, cm, err)

	body := strings.Repeat("b", 500)
	const rounds = 4000 // about 2.3 MB through 64 KiB segments
	maxHot := 0
	for i := range rounds {
		id := job.ID(2 + i)
		cm, err := l.Put(newJob(id, body))
		wait(t, cm, err)
		if i%3 == 0 { // a reserve-and-release before the delete
			j := newJob(id, body)
			j.Releases = 1
			cm, err = l.Update(j)
			wait(t, cm, err)
		}
		cm, err = l.Delete(id)
		wait(t, cm, err)
		if i%200 == 0 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			n, _ := segmentFiles(t, filepath.Join(dir, "hot"))
			maxHot = max(maxHot, n)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	hotN, hotBytes := segmentFiles(t, filepath.Join(dir, "hot"))
	burN, _ := segmentFiles(t, filepath.Join(dir, "buried"))
	t.Logf("hot: %d segments, %d bytes on disk (max seen %d); buried: %d segments; compactions %d (%d bytes)",
		hotN, hotBytes, maxHot, burN, st.Compactions, st.CompactedBytes)
	if hotN > 2 || maxHot > 2 {
		t.Fatalf("hot log has %d segments (max %d during the churn), want at most 2", hotN, maxHot)
	}
	if burN != 1 || st.Buried.LiveBytes == 0 {
		t.Fatalf("buried store: %d segments, %d live bytes; want 1 segment holding the job", burN, st.Buried.LiveBytes)
	}
	if st.CompactedBytes < 2<<20 {
		t.Fatalf("only %d bytes compacted: the churn did not go through the log", st.CompactedBytes)
	}
	mustClose(t, l)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != 1 || rec.Jobs[0].ID != 1 || rec.Jobs[0].State != job.Buried || rec.NextID != 1+idStep {
		t.Fatalf("after restart: %d jobs (%+v), next id %d", len(rec.Jobs), rec.Jobs, rec.NextID)
	}
}

// TestReleasedWithDelayRoundAfterRound is beanstalkd issue #622: a fixed
// set of long-lived jobs released with a delay round after round. The hot
// log must stay within three times the live bytes plus one segment.
func TestReleasedWithDelayRoundAfterRound(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, _ := openLog(t, o)
	const jobs, rounds = 400, 80
	body := strings.Repeat("j", 1024)
	all := make([]*job.Job, jobs)
	for i := range all {
		all[i] = newJob(job.ID(i+1), body)
		cm, err := l.Put(all[i])
		wait(t, cm, err)
	}
	var worst float64
	var written int64
	for r := 1; r <= rounds; r++ {
		for _, j := range all {
			j.State, j.Reserves, j.Releases = job.Delayed, j.Reserves+1, j.Releases+1
			j.Delay = time.Duration(r) * time.Minute
			j.Deadline = t0.Add(time.Duration(r) * time.Hour)
			cm, err := l.Update(j)
			wait(t, cm, err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		st := l.Stats()
		_, disk := segmentFiles(t, filepath.Join(dir, "hot"))
		live := st.Hot.LiveBytes
		if limit := 3*live + o.SegmentSize; disk > limit {
			t.Fatalf("round %d: hot log %d bytes on disk, live %d: above 3x live + one segment (%d)", r, disk, live, limit)
		}
		worst = max(worst, float64(disk)/float64(live))
		written = int64(st.CompactedBytes) + disk
	}
	st := l.Stats()
	t.Logf("after %d rounds: live %d, disk %d, worst disk/live %.2f, compactions %d, bytes through the log %d",
		rounds, st.Hot.LiveBytes, st.Hot.DiskBytes, worst, st.Compactions, written)
	if written <= 3*st.Hot.LiveBytes+o.SegmentSize {
		t.Fatalf("the workload wrote only %d bytes for %d live: without compaction it would still fit the bound", written, st.Hot.LiveBytes)
	}
	mustClose(t, l)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != jobs {
		t.Fatalf("after restart %d jobs, want %d", len(rec.Jobs), jobs)
	}
	for _, j := range rec.Jobs {
		sameJob(t, j, all[j.ID-1])
	}
}

// TestMovesBetweenStores buries and kicks jobs repeatedly and checks that
// restart finds each in the right state and store, and the buried store
// stays bounded too.
func TestMovesBetweenStores(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	l, _ := openLog(t, o)
	const n = 300
	jobs := make([]*job.Job, n)
	for i := range jobs {
		jobs[i] = newJob(job.ID(i+1), strings.Repeat("m", 300))
		cm, err := l.Put(jobs[i])
		wait(t, cm, err)
	}
	for round := range 10 {
		for i, j := range jobs {
			if (i+round)%2 == 0 {
				j.State, j.Buries = job.Buried, j.Buries+1
			} else {
				j.State, j.Kicks = job.Ready, j.Kicks+1
			}
			cm, err := l.Update(j)
			wait(t, cm, err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if limit := 3*st.Buried.LiveBytes + 2*o.BuriedSegmentSize; st.Buried.DiskBytes > limit {
		t.Fatalf("buried store %d bytes for %d live", st.Buried.DiskBytes, st.Buried.LiveBytes)
	}
	mustClose(t, l)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != n {
		t.Fatalf("%d jobs after restart, want %d", len(rec.Jobs), n)
	}
	for _, j := range rec.Jobs {
		sameJob(t, j, jobs[j.ID-1])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, e := range l.index.all() {
		if want := jobs[id-1].State == job.Buried; (e.st == buried) != want {
			t.Fatalf("job %d lives in the %v store, state %v", id, e.st, jobs[id-1].State)
		}
	}
}
