package crashtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/crashcheck"
)

// dirBytes returns the bytes files under dir take on disk, counted as
// du(1) does (allocated blocks, st_blocks*512), and how many files there
// are.
func dirBytes(t *testing.T, dir string) (int64, int) {
	t.Helper()
	var size int64
	var n int
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() && info.Name() != "LOCK" {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				size += st.Blocks * 512
			} else {
				size += info.Size()
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, n
}

// peer is a server under comparison. startProc starts it and returns a
// function that kills it with SIGKILL and waits for it.
type peer struct {
	name      string
	startProc func(t *testing.T, dir, addr string) (kill func())
}

func (p peer) start(t *testing.T, dir, addr string) { p.startProc(t, dir, addr) }

func beanstalkdPeer(t *testing.T, fileSize int) peer {
	path, err := exec.LookPath("beanstalkd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("beanstalkd not installed")
		}
		t.Skip("beanstalkd not installed")
	}
	return peer{name: "beanstalkd -b", startProc: func(t *testing.T, dir, addr string) func() {
		host, port, _ := strings.Cut(addr, ":")
		return run(t, addr, exec.Command(path, "-l", host, "-p", port, "-b", dir, "-s", fmt.Sprint(fileSize), "-f", "50"))
	}}
}

func reprievePeer(bin string, segSize int) peer {
	return peer{name: "reprieve", startProc: func(t *testing.T, dir, addr string) func() {
		return run(t, addr, exec.Command(bin, "serve", "--listen", addr, "--data", dir, "--segment-size", fmt.Sprint(segSize)))
	}}
}

// run starts cmd, waits until addr accepts connections, and returns a
// function that kills it; the test's cleanup kills it too.
func run(t *testing.T, addr string, cmd *exec.Cmd) func() {
	t.Helper()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(kill)
	waitListening(t, addr)
	return kill
}

// waitListening waits up to a minute for addr to accept connections: a
// server replaying a million jobs on a loaded machine takes seconds.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if c, err := beanstalk.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not listen within a minute", addr)
}

// churnAfterBury is seed 003's workload: one job buried, then n jobs of
// size bytes put and deleted. It returns the data directory's size and
// file count at the end.
func churnAfterBury(t *testing.T, addr, dir string, n, size int) (int64, int) {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Put([]byte("poison"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReserveJob(id); err != nil {
		t.Fatal(err)
	}
	if err := c.Bury(id, 1); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("c", size))
	for range n {
		id, err := c.Put(body, 1, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the log catch up (compaction, fsync)
	return dirBytes(t, dir)
}

// releaseRounds is beanstalkd issue #622: jobs jobs of size bytes, each
// round reserved and released with a one-hour delay. It returns the data
// directory's size after each round.
func releaseRounds(t *testing.T, addr, dir string, jobs, size, rounds int) []int64 {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := []byte(strings.Repeat("r", size))
	ids := make([]uint64, jobs)
	for i := range ids {
		if ids[i], err = c.Put(body, 1, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int64
	for range rounds {
		for _, id := range ids {
			if _, err := c.ReserveJob(id); err != nil {
				t.Fatalf("reserve-job %d: %v", id, err)
			}
			if err := c.Release(id, 1, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		s, _ := dirBytes(t, dir)
		sizes = append(sizes, s)
	}
	return sizes
}

// TestDiskVersusBeanstalkd runs both bounded-disk workloads against
// beanstalkd -b and reprieve with the same file size (1 MiB, or
// REPRIEVE_DISK_SEGMENT bytes) and prints the data directories' sizes. It
// takes a minute; set REPRIEVE_DISK_COMPARE=1.
func TestDiskVersusBeanstalkd(t *testing.T) {
	if os.Getenv("REPRIEVE_DISK_COMPARE") == "" {
		t.Skip("set REPRIEVE_DISK_COMPARE=1 to compare disk use with beanstalkd")
	}
	fileSize := 1 << 20 // REPRIEVE_DISK_SEGMENT=16777216 compares at reprieve's default
	if v := os.Getenv("REPRIEVE_DISK_SEGMENT"); v != "" {
		if _, err := fmt.Sscan(v, &fileSize); err != nil || fileSize <= 0 {
			t.Fatalf("REPRIEVE_DISK_SEGMENT=%q: want a size in bytes", v)
		}
	}
	var peers []peer
	which := os.Getenv("REPRIEVE_DISK_COMPARE") // 1: both; beanstalkd or reprieve: that one
	if which != "reprieve" {
		peers = append(peers, beanstalkdPeer(t, fileSize))
	}
	if which != "beanstalkd" {
		peers = append(peers, reprievePeer(crashcheck.Build(t), fileSize))
	}
	const churnJobs, churnSize = 200000, 1024
	const jobs, size = 2000, 1024
	rounds := 40
	if s := os.Getenv("REPRIEVE_DISK_ROUNDS"); s != "" {
		fmt.Sscan(s, &rounds)
	}
	nChurn := churnJobs
	if os.Getenv("REPRIEVE_DISK_SKIP_CHURN") != "" {
		nChurn = 0
	}
	live := int64(jobs * size)
	for _, p := range peers {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir, 0o755)
		addr := freeAddr(t)
		p.start(t, dir, addr)
		b, files := churnAfterBury(t, addr, dir, nChurn, churnSize)
		t.Logf("%-14s one buried job + %d put/delete of %d B: data dir %d bytes in %d files", p.name, nChurn, churnSize, b, files)

		dir2 := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir2, 0o755)
		addr2 := freeAddr(t)
		p.start(t, dir2, addr2)
		sizes := releaseRounds(t, addr2, dir2, jobs, size, rounds)
		var row []string
		for i, s := range sizes {
			if (i+1)%max(10, rounds/5) == 0 {
				row = append(row, fmt.Sprintf("round %d: %d (%.1fx)", i+1, s, float64(s)/float64(live)))
			}
		}
		t.Logf("%-14s %d jobs of %d B released with delay, live %d B: %s", p.name, jobs, size, live, strings.Join(row, "; "))
	}
}
