//go:build !linux

package admin

import (
	"os"
	"runtime"
)

// host is what the stats report of the machine.
var host = func() (h struct{ name, os, platform string }) {
	h.name, _ = os.Hostname()
	h.os, h.platform = runtime.GOOS, runtime.GOARCH
	return h
}()
