package crashtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/crashcheck"
)

// TestFullDiskServer fills a real 1 MiB tmpfs through `reprieve serve`:
// puts get OUT_OF_MEMORY, reserve, delete and stats keep working, and puts
// are accepted again once deletes have freed space, with no restart.
func TestFullDiskServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real server")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	bin := crashcheck.Build(t)
	addr := freeAddr(t)
	kill := run(t, addr, exec.Command(bin, "serve", "--listen", addr, "--data", filepath.Join(mnt, "data"),
		"--segment-size", "64k", "--max-job-size", "8192", "--fsync", "always", "--log-level", "error"))
	defer kill()

	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := []byte(strings.Repeat("d", 4096))
	var ids []uint64
	for i := 0; ; i++ {
		id, err := c.Put(body, 1, 0, time.Minute)
		if err != nil {
			if !errors.Is(err, beanstalk.ErrOOM) {
				t.Fatalf("put %d: %v, want OUT_OF_MEMORY", i, err)
			}
			break
		}
		ids = append(ids, id)
		if i > 1000 {
			t.Fatal("a 1 MiB file system never filled up")
		}
	}
	st, err := c.Stats()
	if err != nil || st["wal-no-space"] != "true" || st["current-jobs-ready"] != strconv.Itoa(len(ids)) {
		t.Fatalf("stats while full: no-space %q, ready %q (want %d), err %v", st["wal-no-space"], st["current-jobs-ready"], len(ids), err)
	}
	// Reserve, release, bury and delete still work.
	ts := beanstalk.NewTubeSet(c, "default")
	id, _, err := ts.Reserve(time.Second)
	if err != nil {
		t.Fatalf("reserve while full: %v", err)
	}
	if err := c.Bury(id, 1); err != nil {
		t.Fatalf("bury while full: %v", err)
	}
	for _, id := range ids {
		if err := c.Delete(id); err != nil {
			t.Fatalf("delete %d while full: %v", id, err)
		}
	}
	// Space comes back as compaction removes the emptied segments.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Put(body, 1, 0, time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, beanstalk.ErrOOM) || time.Now().After(deadline) {
			t.Fatalf("put after deleting everything: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, _ := c.Stats(); st["wal-no-space"] != "false" {
		t.Fatalf("wal-no-space %q after puts resumed", st["wal-no-space"])
	}
}
