package servertest

import (
	"bytes"
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

// Beanstalkd is a running beanstalkd process.
type Beanstalkd struct {
	// Addr is the address it listens on, "127.0.0.1:port".
	Addr string
	// Process is the process, to signal (SIGUSR1 turns drain mode on).
	Process *os.Process
}

// StartBeanstalkd starts the beanstalkd found on PATH on a free loopback
// port, with extra arguments (such as "-z", "1000"). Note that its
// total-connections counts one connection made to see it listening. Without beanstalkd the test is skipped, unless the environment
// variable CI is set: then it fails. t.Cleanup kills the process.
func StartBeanstalkd(t testing.TB, args ...string) *Beanstalkd {
	t.Helper()
	path, err := exec.LookPath("beanstalkd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("servertest: beanstalkd is not installed (CI is set): %v", err)
		}
		t.Skipf("servertest: beanstalkd is not installed: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("servertest: %v", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(path, append([]string{"-l", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
		var stderr bytes.Buffer // written by exec's goroutine, read after Wait
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("servertest: start beanstalkd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var gone bool
		if lastErr, gone = waitListening(addr, port, cmd.Process.Pid, exited); lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				if t.Failed() && stderr.Len() > 0 {
					t.Logf("beanstalkd stderr:\n%s", stderr.String())
				}
			})
			return &Beanstalkd{Addr: addr, Process: cmd.Process}
		}
		if !gone {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
	}
	t.Fatalf("servertest: beanstalkd did not start: %v", lastErr)
	return nil
}

// waitListening waits until addr accepts connections or the process exits
// (then gone is true). A listener on port that is not process pid's (the
// port was taken by another test between freePort and the bind) is an
// error, so that two tests never share one server.
func waitListening(addr string, port, pid int, exited <-chan error) (err error, gone bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			if !listenedBy(pid, port) {
				return fmt.Errorf("another process listens on %s", addr), false
			}
			return nil, false
		}
		select {
		case werr := <-exited:
			return &exitError{addr: addr, err: werr}, true
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err, false
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

type exitError struct {
	addr string
	err  error
}

func (e *exitError) Error() string {
	return "beanstalkd on " + e.addr + " exited: " + errString(e.err)
}

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
