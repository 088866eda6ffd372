package wal

import "syscall"

// fallocate reserves size bytes of the file fd on disk (fallocate(2)).
func fallocate(fd int, size int64) error { return syscall.Fallocate(fd, 0, 0, size) }
