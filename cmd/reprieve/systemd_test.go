package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdUnitStartsAndStops runs the ExecStart command of
// deploy/reprieve.service (its addresses and directory moved to free ones
// here): the server listens, and the unit's stop signal ends it cleanly.
// It also checks the hardening directives that keep the service confined.
func TestSystemdUnitStartsAndStops(t *testing.T) {
	src, err := os.ReadFile("../../deploy/reprieve.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(src)
	for _, d := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "StateDirectory=reprieve", "KillSignal=SIGTERM", "ExecReload=/bin/kill -HUP $MAINPID", "SystemCallFilter=@system-service"} {
		if !strings.Contains(unit, d) {
			t.Errorf("deploy/reprieve.service lacks %q", strings.TrimSpace(d))
		}
	}
	m := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/reprieve (.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("no ExecStart=/usr/local/bin/reprieve line")
	}
	if testing.Short() {
		return
	}
	addr, adminAddr, dir := freePort(t), freePort(t), t.TempDir()
	args := strings.Fields(strings.NewReplacer("127.0.0.1:11300", addr, "127.0.0.1:8080", adminAddr, "/var/lib/reprieve", dir).Replace(m[1]))
	bin := buildReprieve(t)
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		// systemd's own check of the unit, with the binary where it points.
		f := filepath.Join(t.TempDir(), "reprieve.service")
		os.WriteFile(f, []byte(strings.ReplaceAll(unit, "/usr/local/bin/reprieve", bin)), 0o644)
		if b, err := exec.Command(analyze, "verify", f).CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, b)
		}
		b, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", f).CombinedOutput()
		if err != nil || !strings.Contains(string(b), "Overall exposure level for reprieve.service: 1.") {
			t.Errorf("systemd-analyze security: %v; want an exposure level below 2\n%s", err, b)
		}
	}
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for _, a := range []string{addr, adminAddr} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-exited
				t.Fatalf("%v: nothing listens on %s after 20s\n%s", args, a, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running 30s after SIGTERM (the unit's TimeoutStopSec)\n%s", out.String())
	}
}
