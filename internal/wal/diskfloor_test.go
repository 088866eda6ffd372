package wal

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// allocatedBytes is what the files and directories under dir take on disk,
// as du(1) counts it: st_blocks*512 of each.
func allocatedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// TestDiskFloorDefaultSegments is beanstalkd issue #622 at the default
// segment size: 2,000 jobs of 1 KiB reserved and released with a delay,
// round after round (40 rounds in the issue; 120 here, to go through
// several segments). The data directory, counted in
// allocated blocks, must stay within three times the live bytes plus one
// segment after every round: a small working set keeps a single hot
// segment and no preallocated spare beyond the bound.
func TestDiskFloorDefaultSegments(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Fsync: FsyncNever, Logger: quiet}
	l, _ := openLog(t, o)
	const jobs, rounds = 2000, 120
	body := strings.Repeat("j", 1024)
	all := make([]*job.Job, jobs)
	var last interface{ Wait() error }
	for i := range all {
		all[i] = newJob(job.ID(i+1), body)
		cm, err := l.Put(all[i])
		if err != nil {
			t.Fatal(err)
		}
		last = cm
	}
	wait(t, last, nil)
	const bound = 3*jobs*1024 + DefaultSegmentSize
	var worst int64
	for r := 1; r <= rounds; r++ {
		for _, j := range all {
			j.State, j.Reserves = job.Reserved, j.Reserves+1
			j.Deadline = t0.Add(time.Minute)
			if _, err := l.Update(j); err != nil {
				t.Fatal(err)
			}
			j.State, j.Releases = job.Delayed, j.Releases+1
			j.Delay = time.Duration(r) * time.Hour
			j.Deadline = t0.Add(j.Delay)
			cm, err := l.Update(j)
			if err != nil {
				t.Fatal(err)
			}
			last = cm
		}
		wait(t, last, nil)
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		disk := allocatedBytes(t, dir)
		worst = max(worst, disk)
		if disk > bound {
			st := l.Stats()
			t.Fatalf("round %d: data directory takes %d bytes (hot %d segments, buried %d), above 3x live + one segment (%d)",
				r, disk, st.Hot.Segments, st.Buried.Segments, bound)
		}
	}
	st := l.Stats()
	t.Logf("after %d rounds: %d bytes allocated at most (bound %d); hot %d segments, %d live; buried %d segments; %d compactions",
		rounds, worst, int64(bound), st.Hot.Segments, st.Hot.LiveBytes, st.Buried.Segments, st.Compactions)
	if st.Hot.Segments != 1 {
		t.Fatalf("hot log has %d segment files at rest, want 1", st.Hot.Segments)
	}
	if st.Compactions == 0 {
		t.Fatal("no compaction: the workload did not go through a segment")
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
	if disk := allocatedBytes(t, dir); disk > bound {
		t.Fatalf("after restart the data directory takes %d bytes, above %d", disk, int64(bound))
	}
}
