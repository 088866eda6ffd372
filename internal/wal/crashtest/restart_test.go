package crashtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/crashcheck"
)

// pipelinePuts puts n jobs of size bytes over one connection, writing
// while a goroutine reads the replies, and returns when all are answered.
func pipelinePuts(t *testing.T, addr string, n, size int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		r := bufio.NewReader(c)
		for i := 0; i < n; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if !strings.HasPrefix(line, "INSERTED") {
				done <- fmt.Errorf("put %d: %q", i, line)
				return
			}
		}
		done <- nil
	}()
	w := bufio.NewWriterSize(c, 1<<16)
	body := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "put 0 0 60 %d\r\n%s\r\n", size, body)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// readyJobs returns stats' current-jobs-ready, or -1 while the server does
// not answer.
func readyJobs(addr string) int {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return -1
	}
	defer c.Close()
	st, err := c.Stats()
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(st["current-jobs-ready"])
	return n
}

// TestRestartTime fills beanstalkd -b and reprieve with the same jobs,
// kills each and measures how long the restart takes until stats reports
// every job. Set REPRIEVE_RESTART_JOBS (e.g. 1000000) to run it.
func TestRestartTime(t *testing.T) {
	s := os.Getenv("REPRIEVE_RESTART_JOBS")
	if s == "" {
		t.Skip("set REPRIEVE_RESTART_JOBS=N to measure restart time with N jobs")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	var peers []peer
	which := os.Getenv("REPRIEVE_RESTART_PEERS") // "", beanstalkd or reprieve
	if which != "reprieve" {
		peers = append(peers, beanstalkdPeer(t, 10<<20))
	}
	if which != "beanstalkd" {
		peers = append(peers, reprievePeer(crashcheck.Build(t), 16<<20))
	}
	for _, p := range peers {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir, 0o755)
		addr := freeAddr(t)
		stop := p.startProc(t, dir, addr)
		pipelinePuts(t, addr, n, 64)
		stop()
		addr = freeAddr(t)
		begin := time.Now()
		p.startProc(t, dir, addr)
		for deadline := begin.Add(2 * time.Minute); readyJobs(addr) != n; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats did not show the %d jobs within 2 minutes of the restart", p.name, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		size, _ := dirBytes(t, dir)
		t.Logf("%-14s restart with %d jobs of 64 B: %v until stats shows them all (data dir %d bytes)", p.name, n, time.Since(begin).Round(time.Millisecond), size)
	}
}
