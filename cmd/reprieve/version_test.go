package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseBuildIsStampedAndStatic runs scripts/release for this
// machine's target, as a release is built, and checks that the binary in
// the archive prints the stamped version and commit for both --version and
// version, and (on Linux) that it is static: no program interpreter, no
// dynamic section.
func TestReleaseBuildIsStampedAndStatic(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skipf("tar not installed: %v", err)
	}
	out := t.TempDir()
	target := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("../../scripts/release", "v1.2.3-test", target)
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, b)
	}
	name := "reprieve-v1.2.3-test-" + runtime.GOOS + "-" + runtime.GOARCH
	if b, err := exec.Command("tar", "-C", out, "-xzf", filepath.Join(out, name+".tar.gz")).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	check := exec.Command("sha256sum", "-c", name+".tar.gz.sha256")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Fatalf("the archive's checksum file does not verify: %v\n%s", err, b)
	}
	bin := filepath.Join(out, name, "reprieve")
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	dirty, _ := exec.Command("git", "status", "--porcelain").Output()
	commit := strings.TrimSpace(string(head))[:12]
	if len(dirty) > 0 {
		commit += "+modified"
	}
	want := "reprieve v1.2.3-test (commit " + commit + ") " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, arg := range []string{"--version", "version"} {
		got, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil || string(got) != want {
			t.Errorf("reprieve %s = %q, %v; want %q", arg, got, err, want)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	assertStatic(t, bin)
}

// TestVersionLine checks the line for a stamped build, a checkout with
// changes, and a build without VCS information.
func TestVersionLine(t *testing.T) {
	tail := " go1.99 " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tt := range []struct {
		bi   buildInfo
		want string
	}{
		{buildInfo{Version: "v1.0.0", Commit: "0123456789abcdef0123", Time: "2026-01-02T03:04:05Z", Go: "go1.99"}, "reprieve v1.0.0 (commit 0123456789ab, 2026-01-02T03:04:05Z)" + tail},
		{buildInfo{Version: "(devel)", Commit: "0123456789abcdef", Modified: true, Go: "go1.99"}, "reprieve (devel) (commit 0123456789ab+modified)" + tail},
		{buildInfo{Version: "v1.0.0", Commit: "abc+modified", Go: "go1.99"}, "reprieve v1.0.0 (commit abc+modified)" + tail},
		{buildInfo{Version: "(devel)", Go: "go1.99"}, "reprieve (devel)" + tail},
	} {
		if got := tt.bi.String(); got != tt.want {
			t.Errorf("%+v = %q, want %q", tt.bi, got, tt.want)
		}
	}
}

// assertStatic fails the test unless the ELF binary at path is static: no
// program interpreter, no dynamic section (it runs FROM scratch).
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: it is not static", path, p.Type)
		}
	}
}
