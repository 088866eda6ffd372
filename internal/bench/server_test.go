package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// startBeanstalkd starts a real beanstalkd on a free loopback port for the
// test and returns its address. Without beanstalkd the test is skipped,
// unless CI is set.
func startBeanstalkd(t *testing.T, args ...string) string {
	t.Helper()
	addr, _ := startBeanstalkdProcess(t, args...)
	return addr
}

// startBeanstalkdProcess is startBeanstalkd that also returns the process
// (to stop and continue it).
func startBeanstalkdProcess(t *testing.T, args ...string) (string, *os.Process) {
	t.Helper()
	path, err := exec.LookPath("beanstalkd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("beanstalkd not installed: %v", err)
		}
		t.Skipf("beanstalkd not installed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(path, append([]string{"-l", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, cmd.Process
		}
		if i == 500 {
			t.Fatalf("beanstalkd did not listen on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stats sends a stats command (stats, stats-tube NAME) and returns its keys.
func stats(t *testing.T, addr, cmd string) map[string]string {
	t.Helper()
	c, err := dial(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	m, err := c.statsReply(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wantStats fails the test unless every key has the wanted value.
func wantStats(t *testing.T, addr, cmd string, want map[string]string) {
	t.Helper()
	got := stats(t, addr, cmd)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", cmd, k, got[k], v)
		}
	}
}

// testConfig is a small count-bounded run against addr.
func testConfig(addr string, w Workload, count int64) Config {
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Workload = w
	cfg.Conns = 4
	cfg.Pipeline = 8
	cfg.Duration = 0
	cfg.Count = count
	return cfg
}

func runOK(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Workload, err)
	}
	if res.Errors != 0 {
		t.Fatalf("Run(%s): %d error replies", cfg.Workload, res.Errors)
	}
	return res
}
