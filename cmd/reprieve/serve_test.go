package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServe runs `reprieve serve` as a process (built once).
func TestServe(t *testing.T) {
	bin := buildReprieve(t)
	t.Run("Signals", func(t *testing.T) { t.Parallel(); testServeSignals(t, bin) })
	t.Run("FlagErrors", func(t *testing.T) { t.Parallel(); testServeFlagErrors(t, bin) })
	t.Run("AddressInUse", func(t *testing.T) { t.Parallel(); testServeAddressInUse(t, bin) })
	t.Run("IDsAcrossRestarts", func(t *testing.T) { t.Parallel(); testServeIDsAcrossRestarts(t, bin) })
	t.Run("Repair", func(t *testing.T) { t.Parallel(); testRepair(t, bin) })
}

// testServeSignals: SIGUSR1 turns drain mode on, SIGTERM stops the server
// gracefully with exit status 0, closing a connection blocked in reserve
// and one that is idle.
func testServeSignals(t *testing.T, bin string) {
	p := startReprieve(t, bin, freePort(t), "--no-log", "--max-job-size", "10")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	send := func(s, want string) {
		t.Helper()
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("sent %q: got %q, %v; want %q", s, got, err, want)
		}
	}
	send("put 0 0 1 11\r\nhello world\r\n", "JOB_TOO_BIG\r\n")
	send("put 0 0 60 5\r\nhello\r\n", "INSERTED 1\r\n")

	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "drain mode on")
	send("put 0 0 1 5\r\nhello\r\n", "DRAINING\r\n")

	w, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.SetDeadline(time.Now().Add(20 * time.Second))
	wr := bufio.NewReader(w)
	io.WriteString(w, "reserve\r\nreserve\r\n")
	if got, _ := wr.ReadString('\n'); got != "RESERVED 1 5\r\n" {
		t.Fatalf("reserve: %q", got)
	}
	wr.ReadString('\n') // the body

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM\n%s", p.output())
	}
	for _, rd := range []*bufio.Reader{r, wr} {
		if b, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("connection not closed: %q %v", b, err)
		}
	}
	if out := p.output(); !strings.Contains(out, "shutting down") || !strings.Contains(out, "msg=stopped") {
		t.Fatalf("log lacks the shutdown:\n%s", out)
	}
}

// testServeFlagErrors checks that bad flags exit with status 2 and say
// what to fix, and that --help explains every flag.
func testServeFlagErrors(t *testing.T, bin string) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-job-size", "0"}, "--max-job-size 0: want 1 to 1073741824 bytes"},
		{[]string{"--listen", "nowhere"}, `--listen "nowhere": want HOST:PORT`},
		{[]string{"--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"--log-format", "xml"}, `--log-format "xml": want text or json`},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		out, err := exec.Command(bin, append([]string{"serve"}, tt.args...)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("serve %v: %v, output %q; want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"-listen", "-max-job-size", "-shutdown-timeout", "-log-level", "-log-format", "SIGUSR1", "SIGTERM"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("--help lacks %s:\n%s", flag, out)
		}
	}
}

// testServeAddressInUse checks the error for a busy address.
func testServeAddressInUse(t *testing.T, bin string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(bin, "serve", "--no-log", "--listen", ln.Addr().String()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "choose another with --listen") {
		t.Fatalf("serve on a busy address: %v\n%s", err, out)
	}
}
