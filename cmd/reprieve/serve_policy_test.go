package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
)

// reprieveProc is a `reprieve serve` child process.
type reprieveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr string // file holding its output
	exited chan error
}

// freePort returns a loopback address free a moment ago (servertest.FreeAddr).
func freePort(t *testing.T) string {
	t.Helper()
	addr, err := servertest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// startReprieve starts `reprieve serve` with args and waits until it
// accepts connections.
func startReprieve(t *testing.T, bin, addr string, args ...string) *reprieveProc {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &reprieveProc{cmd: cmd, addr: addr, stderr: logf, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.exited })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("reprieve serve exited at start: %v\n%s", err, p.output())
		case <-time.After(20 * time.Millisecond):
		}
		if i > 1000 {
			t.Fatalf("reprieve serve did not listen within 20s\n%s", p.output())
		}
	}
}

func (p *reprieveProc) output() string {
	b, _ := os.ReadFile(p.stderr)
	return string(b)
}

// kill sends SIGKILL and waits for the process to end.
func (p *reprieveProc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.exited
	p.exited <- err
}

// waitLog waits until the server's output holds text.
func (p *reprieveProc) waitLog(t *testing.T, text string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if strings.Contains(p.output(), text) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server output lacks %q:\n%s", text, p.output())
}

// TestRestartKeepsRetryScheduleAndHistory fails jobs on a real server
// with --fsync always, kills it with SIGKILL in the middle of their
// schedules, restarts it on the same data directory and checks that each
// job kept its next-attempt time, its attempt count and its history.
func TestRestartKeepsRetryScheduleAndHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	bin := buildReprieve(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "reprieve.yaml")
	if err := os.WriteFile(config, []byte(`tubes:
  calls:
    retry: {initial: 1h, factor: 2, cap: 8h, jitter: 0, max-attempts: 5, max-age: 0}
  once:
    give-up: {action: dead-letter, tube: dead}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	srv := startReprieve(t, bin, addr, "--data", data, "--fsync", "always", "--config", config)
	ctx := context.Background()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.PutIn(ctx, "calls", []byte("charge"), 0, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := c.PutIn(ctx, "once", []byte("mail"), 0, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReserveJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	res, err := c.Fail(ctx, id, "gateway down\ntrace")
	if err != nil || res.Action != client.FailRetry || res.Attempts != 1 || res.Delay != time.Hour {
		t.Fatalf("fail: %+v, %v", res, err)
	}
	if _, err := c.ReserveJob(ctx, dl); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Fail(ctx, dl, "template missing"); err != nil || r.Action != client.FailDeadLetter {
		t.Fatalf("fail dead-letter: %+v, %v", r, err)
	}
	before, err := c.StatsJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.kill(t)

	srv = startReprieve(t, bin, addr, "--data", data, "--fsync", "always", "--config", config)
	c, err = client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t1 := time.Now()
	after, err := c.StatsJob(ctx, id)
	t2 := time.Now()
	if err != nil {
		t.Fatalf("job lost in the restart: %v\n%s", err, srv.output())
	}
	for _, k := range []string{"state", "tube", "failures", "first-error", "last-error", "first-failure", "last-failure", "origin", "delay", "reserves", "size"} {
		if before[k] != after[k] {
			t.Errorf("%s was %q before the restart, %q after", k, before[k], after[k])
		}
	}
	if after["state"] != "delayed" || after["failures"] != "1" || after["last-error"] != "gateway down\ntrace" {
		t.Errorf("after the restart: %v", after)
	}
	// The next attempt is still res.At: time-left counts down to it, not
	// to an hour after the restart.
	left, err := after.Duration("time-left")
	if err != nil {
		t.Fatal(err)
	}
	lo := res.At.Sub(t2).Truncate(time.Second) - time.Second
	hi := res.At.Sub(t1) + time.Second
	if left < lo || left > hi {
		t.Errorf("time-left %v after the restart, want the retry at %v: between %v and %v", left, res.At.Format(time.RFC3339), lo, hi)
	}
	// The attempt count survived: the next failure is attempt 2, 2h.
	if _, err := c.ReserveJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	res2, err := c.Fail(ctx, id, "still down")
	if err != nil || res2.Attempts != 2 || res2.Delay != 2*time.Hour {
		t.Fatalf("fail after the restart: %+v, %v", res2, err)
	}
	if s, err := c.StatsJob(ctx, id); err != nil || s["first-error"] != "gateway down\ntrace" || s["first-failure"] != before["first-failure"] {
		t.Fatalf("history after a failure past the restart: %v, %v", s, err)
	}
	d, err := c.StatsJob(ctx, dl)
	if err != nil || d["tube"] != "dead" || d["state"] != "buried" || d["origin"] != "once" || d["gave-up"] != "dead-letter dead" || d["last-error"] != "template missing" {
		t.Fatalf("dead letter after the restart: %v, %v", d, err)
	}
	// A kicked dead letter still goes home after a restart.
	if n, err := c.KickTube(ctx, "dead", 10, ""); err != nil || n != 1 {
		t.Fatalf("kick-tube dead: %d, %v", n, err)
	}
	if d, _ := c.StatsJob(ctx, dl); d["tube"] != "once" || d["state"] != "ready" {
		t.Fatalf("kicked dead letter: %v", d)
	}
}

// TestServeConfigReloadOnSIGHUP: an invalid file stops the start with its
// line; SIGHUP with a broken file keeps the old policies and says why;
// SIGHUP with a good file applies it.
func TestServeConfigReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	bin := buildReprieve(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "reprieve.yaml")
	write := func(s string) {
		if err := os.WriteFile(config, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tubes:\n  a:\n    retry: {factor: 0.5}\n")
	out, err := exec.Command(bin, "serve", "--listen", freePort(t), "--no-log", "--config", config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), config+":3: tubes.a.retry.factor: 0.5 is below 1") {
		t.Fatalf("start with a bad config: %v\n%s", err, out)
	}

	write("tubes:\n  a:\n    give-up: bury\n")
	addr := freePort(t)
	srv := startReprieve(t, bin, addr, "--no-log", "--config", config)
	ctx := context.Background()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	failOnce := func(want string) {
		t.Helper()
		id, err := c.PutIn(ctx, "a", []byte("x"), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReserveJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		res, err := c.Fail(ctx, id, "boom")
		if err != nil || res.Action != want {
			t.Fatalf("fail: %+v, %v; want %s", res, err, want)
		}
	}
	failOnce(client.FailBuried)

	write("tubes:\n  a:\n    give-up: explode\n")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitLog(t, "keeping the policies in force")
	if !strings.Contains(srv.output(), `unknown action \"explode\"`) {
		t.Errorf("reload failure does not say why:\n%s", srv.output())
	}
	failOnce(client.FailBuried)

	write("tubes:\n  a:\n    give-up: delete\n")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitLog(t, "failure policies reloaded")
	failOnce(client.FailDeleted)
	if st, err := c.StatsTube(ctx, "a"); err != nil || st["current-jobs-buried"] != "2" {
		t.Fatalf("the reload lost or moved jobs: %v, %v", st, err)
	}
}
