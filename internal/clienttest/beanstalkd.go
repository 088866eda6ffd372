// Package clienttest starts real beanstalkd processes on loopback for the
// tests of the client and the command line, and can kill them with SIGKILL
// and start them again on the same port and log directory.
package clienttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Beanstalkd is a beanstalkd process started for a test. Its methods must
// be called from the test's goroutine.
type Beanstalkd struct {
	// Addr is the host:port it listens on; it stays the same across Restart.
	Addr string

	t    testing.TB // nil when started by Start
	bin  string
	dir  string // its write-ahead log directory
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// StartBeanstalkd starts beanstalkd on 127.0.0.1 with a free port and a
// write-ahead log in a temporary directory (so that jobs it acknowledged
// survive Kill and Restart), and kills it when the test ends. Without a
// beanstalkd binary the test is skipped, unless the environment variable CI
// is set, when it fails.
func StartBeanstalkd(t testing.TB) *Beanstalkd {
	t.Helper()
	bin, err := exec.LookPath("beanstalkd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("beanstalkd not installed (scripts/test installs it): %v", err)
		}
		t.Skipf("beanstalkd not installed: %v", err)
	}
	b, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.t = t
	t.Cleanup(b.Kill)
	return b
}

// Start starts beanstalkd as StartBeanstalkd does, outside a test (for
// TestMain and examples), with its log in dir; the caller must Kill it.
// It fails if beanstalkd is not installed.
func Start(dir string) (*Beanstalkd, error) {
	bin, err := exec.LookPath("beanstalkd")
	if err != nil {
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	return start(bin, dir)
}

func start(bin, dir string) (*Beanstalkd, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("clienttest: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := &Beanstalkd{bin: bin, dir: dir, port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	return b, b.start()
}

func (b *Beanstalkd) start() error {
	b.cmd = exec.Command(b.bin, "-l", "127.0.0.1", "-p", strconv.Itoa(b.port), "-b", b.dir)
	if err := b.cmd.Start(); err != nil {
		b.cmd = nil
		return fmt.Errorf("clienttest: start beanstalkd: %w", err)
	}
	b.done = make(chan struct{})
	cmd, done := b.cmd, b.done
	go func() { cmd.Wait(); close(done) }() // owned by b: Kill waits for done
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", b.Addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			b.cmd = nil
			return fmt.Errorf("clienttest: beanstalkd on %s exited at start: %v", b.Addr, cmd.ProcessState)
		default:
		}
		if i == 500 {
			b.Kill()
			return fmt.Errorf("clienttest: beanstalkd on %s not accepting after 5s: %w", b.Addr, err)
		}
		time.Sleep(10 * time.Millisecond) // waiting for another process, not for our own timer
	}
}

// Kill stops the process with SIGKILL and waits for it; killing a stopped
// server does nothing.
func (b *Beanstalkd) Kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	b.cmd = nil
}

// Restart starts the server again on the same address and log directory,
// killing it first if it runs. It fails the test if the server does not
// come up.
func (b *Beanstalkd) Restart() {
	b.t.Helper()
	b.Kill()
	if err := b.start(); err != nil {
		b.t.Fatal(err)
	}
}

// String names the server in test messages.
func (b *Beanstalkd) String() string { return fmt.Sprintf("beanstalkd@%s", b.Addr) }

// Drain sends SIGUSR1, which puts beanstalkd in drain mode: puts are
// answered DRAINING. It returns once the server says it is draining.
func (b *Beanstalkd) Drain() {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGUSR1)
	for i := 0; ; i++ {
		if b.draining() {
			return
		}
		if i == 500 {
			b.t.Fatalf("%s not draining 5s after SIGUSR1", b)
		}
		time.Sleep(10 * time.Millisecond) // waiting for another process
	}
}

// draining asks the server for its draining stat over a raw connection.
func (b *Beanstalkd) draining() bool {
	c, err := net.Dial("tcp", b.Addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.Write([]byte("stats\r\n"))
	buf := make([]byte, 8192)
	var got []byte
	for !strings.Contains(string(got), "\nplatform:") {
		n, err := c.Read(buf)
		if err != nil {
			return false
		}
		got = append(got, buf[:n]...)
	}
	return strings.Contains(string(got), "\ndraining: true\n")
}
