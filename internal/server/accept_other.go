//go:build !unix

package server

import "errors"

var errTooManyFiles = errors.New("server: no EMFILE on this platform")
