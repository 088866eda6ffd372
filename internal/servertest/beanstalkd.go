package servertest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
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
		if lastErr, gone = waitListening(addr, exited); lastErr == nil {
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
// (then gone is true).
func waitListening(addr string, exited <-chan error) (err error, gone bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
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
