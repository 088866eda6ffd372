package wal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reprieve/reprieve/internal/job"
)

// mountTmpfs mounts a tmpfs of the given size on a new directory and
// unmounts it at cleanup; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillUntilRefused puts 4 KiB jobs from id first until the log refuses
// one with ErrNoSpace and returns the ids acknowledged.
func fillUntilRefused(t *testing.T, l *Log, first job.ID) []job.ID {
	t.Helper()
	var acked []job.ID
	body := strings.Repeat("f", 4096)
	for id := first; id < first+100000; id++ {
		cm, err := l.Put(newJob(id, body))
		if err != nil {
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("put %d refused with %v, want ErrNoSpace", id, err)
			}
			return acked
		}
		wait(t, cm, nil)
		acked = append(acked, id)
	}
	t.Fatal("the disk never filled up")
	return nil
}

// fillFull fills a fresh log until puts are refused, wants at least
// that many puts and Stats().NoSpace set, and returns the ids acknowledged.
func fillFull(t *testing.T, l *Log, least int) []job.ID {
	t.Helper()
	acked := fillUntilRefused(t, l, 1)
	if len(acked) < least {
		t.Fatalf("only %d puts before the disk filled", len(acked))
	}
	if !l.Stats().NoSpace {
		t.Fatal("Stats().NoSpace not set while puts are refused")
	}
	return acked
}

// checkFullDisk runs the full-disk scenario: puts refused with ErrNoSpace,
// release/bury/delete still logged, nothing half-written, and puts
// accepted again once space returns (by deleting jobs, then by the
// caller's free).
func checkFullDisk(t *testing.T, o Options, free func()) {
	l, _ := openLog(t, o)
	acked := fillFull(t, l, 3)
	// Release, bury and delete keep working out of the reserve.
	rel := newJob(acked[0], strings.Repeat("f", 4096))
	rel.State, rel.Releases = job.Delayed, 1
	cm, err := l.Update(rel)
	wait(t, cm, err)
	bur := newJob(acked[1], strings.Repeat("f", 4096))
	bur.State, bur.Buries = job.Buried, 1
	cm, err = l.Update(bur)
	wait(t, cm, err)
	cm, err = l.Delete(acked[2])
	wait(t, cm, err)
	// The bury made a put record dead, which may lower the room kept
	// for compaction by a job or two: fill again until refused.
	more := fillUntilRefused(t, l, 9000)
	acked = append(acked, more...)
	refused := 9000 + job.ID(len(more))
	mustClose(t, l)

	// Nothing half-written: a restart finds exactly the acknowledged jobs.
	l, rec := openLog(t, o)
	got := jobsByID(rec)
	if len(got) != len(acked)-1 || got[acked[2]] != nil || got[refused] != nil {
		t.Fatalf("after restart %d jobs, want the %d acknowledged minus one deleted", len(got), len(acked))
	}
	if got[acked[0]].State != job.Delayed || got[acked[1]].State != job.Buried {
		t.Fatalf("release/bury while full not kept: %v %v", got[acked[0]].State, got[acked[1]].State)
	}

	free()
	cm, err = l.Put(newJob(20001, "space is back"))
	wait(t, cm, err)
	if err := l.Sync(); err != nil { // the writer retries the segment it could not create
		t.Fatal(err)
	}
	if l.Stats().NoSpace {
		t.Fatal("Stats().NoSpace still set after space returned and the writer ran")
	}
	mustClose(t, l)
	l, rec = openLog(t, o)
	defer mustClose(t, l)
	if jobsByID(rec)[20001] == nil {
		t.Fatal("the put accepted after space returned is lost")
	}
}

// TestFullDiskOnTmpfs fills a real 1 MiB tmpfs, half taken by another
// file; space returns when that file is removed.
func TestFullDiskOnTmpfs(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 512<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	o := testOptions(filepath.Join(dir, "data"))
	checkFullDisk(t, o, func() {
		if err := os.Remove(ballast); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFullDiskInjected makes every segment allocation fail with ENOSPC at
// the file layer, then lets it succeed again.
func TestFullDiskInjected(t *testing.T) {
	fs := newTestFS()
	o := testOptions(t.TempDir())
	o.fs = fs
	// The directory's first segments exist before the disk "fills".
	l, _ := openLog(t, o)
	mustClose(t, l)
	fs.noSpace.Store(true)
	checkFullDisk(t, o, func() { fs.noSpace.Store(false) })
}

// TestFullDiskRecoversWhenJobsAreDeleted fills a tmpfs, deletes every job
// and checks that compaction gives the space back to new puts without a
// restart.
func TestFullDiskRecoversWhenJobsAreDeleted(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	o := testOptions(filepath.Join(dir, "data"))
	l, _ := openLog(t, o)
	defer mustClose(t, l)
	acked := fillUntilRefused(t, l, 1)
	for _, id := range acked {
		cm, err := l.Delete(id)
		wait(t, cm, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	again := fillUntilRefused(t, l, 5000)
	if len(again) < len(acked)/2 {
		t.Fatalf("after deleting %d jobs only %d puts fit again", len(acked), len(again))
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled with %d jobs, deleted, refilled with %d; %d blocks free", len(acked), len(again), st.Bfree)
}
