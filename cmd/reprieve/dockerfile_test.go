package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDockerfileBuildsStaticBinary checks what can be checked of the
// Dockerfile without a Docker engine: its build stage's command is
// scripts/release's (static, trimmed, stamped), running that exact command
// here gives a static binary that prints the stamped version, and the
// image is the binary alone (FROM scratch) run as a non-root user.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	src, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(text)
	if build == nil {
		t.Fatal("the Dockerfile has no RUN CGO_ENABLED=0 go build line")
	}
	release, err := os.ReadFile("../../scripts/release")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"CGO_ENABLED=0", "go build -trimpath", `-ldflags "-s -w -X main.version=`, "-X main.commit=", "./cmd/reprieve"} {
		if !strings.Contains(build[1], part) || !strings.Contains(string(release), part) {
			t.Errorf("%q is not in both the Dockerfile's build command and scripts/release", part)
		}
	}
	stages := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(text, -1)
	user := regexp.MustCompile(`(?m)^USER (\d+)(:\d+)?$`).FindStringSubmatch(text)
	if len(stages) != 2 || stages[1][1] != "scratch" || user == nil || user[1] == "0" {
		t.Errorf("want a build stage then FROM scratch with a numeric non-root USER; stages %v, user %v", stages, user)
	}
	if runtime.GOOS != "linux" || testing.Short() {
		return
	}

	// The exact command, with the build arguments and output path set.
	out := filepath.Join(t.TempDir(), "reprieve")
	cmdline := strings.NewReplacer("${VERSION}", "v0.0.0-docker", "${COMMIT}", "abc1234", "/out/reprieve", out).Replace(build[1])
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	got, err := exec.Command(out, "version").Output()
	if want := "reprieve v0.0.0-docker (commit abc1234) " + runtime.Version() + " linux/" + runtime.GOARCH + "\n"; err != nil || string(got) != want {
		t.Errorf("version = %q, %v; want %q", got, err, want)
	}
	assertStatic(t, out)
}
