package wal

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// deleteAllRandomly deletes ids in random order: every delete must be
// logged. After each compaction that frees a segment, a put must be
// accepted again (it is deleted at once), and once all are deleted. It
// returns how many deletes went by before the first such put (-1: none
// was freed).
func deleteAllRandomly(t *testing.T, l *Log, ids []job.ID, r *rand.Rand, probe job.ID) int {
	t.Helper()
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	compactions := l.Stats().Compactions
	back := -1
	for i, id := range ids {
		cm, err := l.Delete(id)
		if err != nil {
			t.Fatalf("delete %d of %d (job %d): %v", i+1, len(ids), id, err)
		}
		wait(t, cm, nil)
		if i%32 != 31 && i != len(ids)-1 {
			continue
		}
		if err := l.Sync(); err != nil { // lets the writer compact
			t.Fatal(err)
		}
		if c := l.Stats().Compactions; c > compactions {
			compactions = c
			cm, err := l.Put(newJob(probe, strings.Repeat("p", 4096)))
			if err != nil {
				t.Fatalf("after %d deletes compaction freed a segment, yet a put is refused: %v", i+1, err)
			}
			wait(t, cm, nil)
			cm, err = l.Delete(probe)
			wait(t, cm, err)
			probe++
			if back < 0 {
				back = i + 1
			}
		}
	}
	// With every job deleted, puts come back (by compaction, or by a new
	// segment where the disk has room for one).
	cm, err := l.Put(newJob(probe, "back"))
	if err != nil {
		t.Fatalf("all %d jobs deleted, yet a put is refused: %v", len(ids), err)
	}
	wait(t, cm, nil)
	cm, err = l.Delete(probe)
	wait(t, cm, err)
	return back
}

// checkFullDiskPlan is the full-disk scenario on a real tmpfs: fill with
// puts until refused, delete in random order (every delete succeeds, puts
// come back once compaction frees a segment), fill again, restart on the
// full disk, delete everything again and fill once more.
func checkFullDiskPlan(t *testing.T, fsSize string, segSize int64) {
	mnt := mountTmpfs(t, fsSize)
	o := Options{Dir: filepath.Join(mnt, "data"), Fsync: FsyncNever, SegmentSize: segSize, Logger: quiet}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	l, _ := openLog(t, o)
	first := fillFull(t, l, 10)
	back := deleteAllRandomly(t, l, append([]job.ID(nil), first...), r, 900000)
	second := fillUntilRefused(t, l, 100000)
	t.Logf("filled with %d jobs; puts came back after %d random deletes; refilled with %d", len(first), back, len(second))
	if len(second) < len(first)/2 {
		t.Fatalf("after deleting everything only %d puts fit again, first time %d", len(second), len(first))
	}
	mustClose(t, l)

	// A restart on the full disk.
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != len(second) {
		t.Fatalf("restart on the full disk: %d jobs, want %d", len(rec.Jobs), len(second))
	}
	deleteAllRandomly(t, l, second, r, 950000)
	if third := fillUntilRefused(t, l, 200000); len(third) < len(first)/2 {
		t.Fatalf("after the restart only %d puts fit again, first time %d", len(third), len(first))
	}
}

// TestFullDiskPlanDefaultSegments: 16 MiB segments on a 40 MiB tmpfs.
func TestFullDiskPlanDefaultSegments(t *testing.T) {
	checkFullDiskPlan(t, "40m", DefaultSegmentSize)
}

// TestFullDiskPlanSmallSegments: 512 KiB segments on a 2 MiB tmpfs.
func TestFullDiskPlanSmallSegments(t *testing.T) {
	checkFullDiskPlan(t, "2m", 512<<10)
}
