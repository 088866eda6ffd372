package admin

import (
	"os"
	"syscall"
)

// host is what the stats report of the machine: like beanstalkd, the
// uname node name, version and machine.
var host = func() (h struct{ name, os, platform string }) {
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		h.name, h.os, h.platform = cstr(u.Nodename[:]), cstr(u.Version[:]), cstr(u.Machine[:])
	}
	if h.name == "" {
		h.name, _ = os.Hostname()
	}
	return h
}()

func cstr[T int8 | uint8](b []T) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
