//go:build unix

package server

import "syscall"

// errTooManyFiles is the accept error that passes when connections close.
var errTooManyFiles = syscall.EMFILE
