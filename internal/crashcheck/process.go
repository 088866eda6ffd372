package crashcheck

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Build compiles cmd/reprieve into t's temporary directory and returns
// the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reprieve")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/reprieve/reprieve/cmd/reprieve")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build reprieve: %v", err)
	}
	return bin
}

// Process is one running process whose output goes to a log file.
type Process struct {
	Cmd *exec.Cmd
	Log string // the file holding its stdout and stderr

	done chan struct{} // closed once the process exited; err is then set
	err  error
}

// Done is closed once p exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how p exited (Wait's error), nil while it runs.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Start starts bin with args, its output in a new log file named for
// name in t's temporary directory; it returns at once. The process is
// killed when t ends, unless it exited before.
func Start(t testing.TB, bin, name string, args ...string) *Process {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &Process{Cmd: exec.Command(bin, args...), Log: f.Name(), done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = f, f
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Cmd.Process.Signal(syscall.SIGCONT) // a frozen process dies too
		p.Kill()
	})
	return p
}

// Kill SIGKILLs p and waits for it to exit.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Tail returns the last lines of p's log.
func (p *Process) Tail(lines int) string {
	b, _ := os.ReadFile(p.Log)
	l := strings.Split(string(b), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// WaitListening blocks until addr accepts connections, failing t if p
// exits first or d passes.
func (p *Process) WaitListening(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited at start: %v\n%s", p.Cmd.Path, p.err, p.Tail(30))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s in %v", p.Cmd.Path, addr, d)
		}
	}
}
