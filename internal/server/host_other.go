//go:build !linux

package server

import (
	"os"
	"runtime"
)

// host is what stats reports of the machine.
var host = func() (h struct{ name, os, platform string }) {
	h.name, _ = os.Hostname()
	return struct{ name, os, platform string }{h.name, runtime.GOOS, runtime.GOARCH}
}()
