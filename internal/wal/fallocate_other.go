//go:build !linux

package wal

import "syscall"

// fallocate is Linux's; elsewhere Allocate falls back to writing zeros.
func fallocate(int, int64) error { return syscall.ENOSYS }
