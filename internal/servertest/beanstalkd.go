package servertest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Beanstalkd is a running beanstalkd process, started for a test (the peer
// of the differential tests, the servers of the client's tests). Its
// methods must be called from the test's goroutine.
type Beanstalkd struct {
	// Addr is the address it listens on, "127.0.0.1:port"; it stays the
	// same across Restart.
	Addr string

	t    testing.TB // nil when started by LaunchBeanstalkd
	bin  string
	args []string // after -l and -p
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	// stderr is the process's standard error: written by exec's
	// goroutine, read only once done is closed.
	stderr *bytes.Buffer
}

// StartBeanstalkd starts the beanstalkd found on PATH on a free loopback
// port, with extra arguments (such as "-z", "1000"). Note that its
// total-connections counts one connection made to see it listening.
// Without beanstalkd the test is skipped, unless the environment variable
// CI is set: then it fails. t.Cleanup kills the process, and shows what it
// wrote to standard error if the test failed.
func StartBeanstalkd(t testing.TB, args ...string) *Beanstalkd {
	t.Helper()
	bin, err := exec.LookPath("beanstalkd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("servertest: beanstalkd is not installed (CI is set; scripts/test installs it): %v", err)
		}
		t.Skipf("servertest: beanstalkd is not installed: %v", err)
	}
	b, err := launch(bin, args)
	if err != nil {
		t.Fatal(err)
	}
	b.t = t
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() && b.stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", b, b.stderr)
		}
	})
	return b
}

// StartDurableBeanstalkd is StartBeanstalkd with a write-ahead log in a
// temporary directory, so that the jobs it acknowledged survive Kill and
// Restart.
func StartDurableBeanstalkd(t testing.TB) *Beanstalkd {
	t.Helper()
	return StartBeanstalkd(t, "-b", t.TempDir())
}

// LaunchBeanstalkd starts beanstalkd as StartBeanstalkd does, outside a
// test (for TestMain and examples); the caller must Kill it. It fails if
// beanstalkd is not installed.
func LaunchBeanstalkd(args ...string) (*Beanstalkd, error) {
	bin, err := exec.LookPath("beanstalkd")
	if err != nil {
		return nil, fmt.Errorf("servertest: %w", err)
	}
	return launch(bin, args)
}

// launch starts bin on a free port, trying another port if the one it
// picked was taken meanwhile.
func launch(bin string, args []string) (*Beanstalkd, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return nil, fmt.Errorf("servertest: find a free port: %w", err)
		}
		b := &Beanstalkd{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, args: args}
		if err = b.start(); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// start runs the process on b.Addr and waits until it accepts connections.
func (b *Beanstalkd) start() error {
	_, port, _ := net.SplitHostPort(b.Addr)
	b.cmd = exec.Command(b.bin, append([]string{"-l", "127.0.0.1", "-p", port}, b.args...)...)
	b.stderr = &bytes.Buffer{}
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		b.cmd = nil
		return fmt.Errorf("servertest: start beanstalkd: %w", err)
	}
	b.done = make(chan struct{})
	cmd, done := b.cmd, b.done
	go func() { _ = cmd.Wait(); close(done) }() // owned by b: Kill waits for done
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			// Another process may have taken the port between freePort
			// and the bind: then two tests would share its server.
			if p, _ := strconv.Atoi(port); !listenedBy(cmd.Process.Pid, p) {
				b.Kill()
				return fmt.Errorf("servertest: another process listens on %s", b.Addr)
			}
			return nil
		}
		select {
		case <-done:
			b.cmd = nil
			return fmt.Errorf("servertest: %s exited at start (%v): %s", b, cmd.ProcessState, b.stderr)
		case <-time.After(5 * time.Millisecond): // waiting for another process, not for our own timer
		}
		if time.Now().After(deadline) {
			b.Kill()
			return fmt.Errorf("servertest: %s not accepting after 5s: %w", b, err)
		}
	}
}

// listenedBy reports whether process pid holds the socket listening on
// 127.0.0.1:port, as /proc tells; true where there is no /proc to ask.
func listenedBy(pid, port int) bool {
	tcp, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	local, inode := fmt.Sprintf("0100007F:%04X", port), ""
	for _, line := range strings.Split(string(tcp), "\n") {
		if f := strings.Fields(line); len(f) > 9 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			inode = f[9]
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil || inode == "" {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// Kill stops the process with SIGKILL and waits for it; killing a stopped
// server does nothing.
func (b *Beanstalkd) Kill() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	b.cmd = nil
}

// Restart starts the server again on the same address with the same
// arguments (and so the same log directory), killing it first if it runs.
// It fails the test if the server does not come up.
func (b *Beanstalkd) Restart() {
	b.t.Helper()
	b.Kill()
	if err := b.start(); err != nil {
		b.t.Fatal(err)
	}
}

// Signal sends sig to the running process.
func (b *Beanstalkd) Signal(sig os.Signal) error {
	if b.cmd == nil {
		return fmt.Errorf("servertest: %s is not running", b)
	}
	return b.cmd.Process.Signal(sig)
}

// String names the server in test messages.
func (b *Beanstalkd) String() string { return "beanstalkd@" + b.Addr }

// Drain sends SIGUSR1, which puts beanstalkd in drain mode: puts are
// answered DRAINING. It returns once the server says it is draining.
func (b *Beanstalkd) Drain() {
	b.t.Helper()
	if err := b.Signal(syscall.SIGUSR1); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !b.draining() {
		if time.Now().After(deadline) {
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
	if _, err := c.Write([]byte("stats\r\n")); err != nil {
		return false
	}
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	return addr.Port, nil
}

// Ports below the kernel's ephemeral range (32768–60999 by default) are
// never handed to outgoing connections, so a port FreeAddr found free
// cannot be taken by a client socket of another test between FreeAddr
// and the listen that follows; only another FreeAddr could pick it, one
// chance in 12,000.
const (
	freeLow, freeHigh = 20000, 32000
)

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago,
// for a server process that must be told its port before it starts. The
// port is chosen at random below the kernel's ephemeral range (see
// freeLow); after 100 ports in use it falls back to one the kernel picks.
func FreeAddr() (*net.TCPAddr, error) {
	for range 100 {
		port := freeLow + rand.IntN(freeHigh-freeLow)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			addr := ln.Addr().(*net.TCPAddr)
			ln.Close()
			return addr, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr), nil
}
