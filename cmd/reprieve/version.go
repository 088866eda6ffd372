package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// This file holds the version subcommand and --version.

func init() {
	register("version", "print the version, commit and Go version of this binary", func(args []string) error {
		if len(args) > 0 {
			return usagef("version takes no arguments")
		}
		printVersion(os.Stdout)
		return nil
	})
}

// version and commit are stamped into release builds by scripts/release:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/reprieve
//
// Empty, version is the module version from the build info ("(devel)" for
// a build from a checkout) and commit the build info's vcs.revision (which
// the go command records only where it finds the repository; not in a git
// worktree, for one).
var version, commit string

// buildInfo is what version prints.
type buildInfo struct {
	Version  string // the stamped version, else the module's
	Commit   string // the VCS revision, "" if unknown
	Modified bool   // the work tree had uncommitted changes
	Time     string // the commit's time, RFC 3339
	Go       string // the Go release that built it
}

// readBuildInfo returns the version of this binary from the stamped
// version and debug.ReadBuildInfo.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if bi.Version == "" {
			bi.Version = "unknown"
		}
		return bi
	}
	if bi.Version == "" {
		bi.Version = info.Main.Version
	}
	if bi.Version == "" {
		bi.Version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if bi.Commit == "" {
				bi.Commit = s.Value
			}
		case "vcs.modified":
			bi.Modified = s.Value == "true" && commit == ""
		case "vcs.time":
			if commit == "" {
				bi.Time = s.Value
			}
		}
	}
	return bi
}

// String is the one line that `reprieve version` prints, for example
// "reprieve v1.2.3 (commit 1474b06c2a9e, 2026-12-02T11:00:00Z) go1.26.8 linux/amd64".
func (bi buildInfo) String() string {
	s := "reprieve " + bi.Version
	if bi.Commit != "" {
		c, mod, _ := strings.Cut(bi.Commit, "+")
		if len(c) > 12 {
			c = c[:12]
		}
		if mod != "" {
			c += "+" + mod
		} else if bi.Modified {
			c += "+modified"
		}
		s += " (commit " + c
		if bi.Time != "" {
			s += ", " + bi.Time
		}
		s += ")"
	}
	return s + " " + bi.Go + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func printVersion(w io.Writer) { fmt.Fprintln(w, readBuildInfo()) }
