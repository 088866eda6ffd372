// Package testhook lets one public package's tests reach what another
// public package keeps unexported, without widening the public API: the
// worker's tests run the worker's client.Pool on their fake clock, and the server's tests see which core serves a
// connection. Each
// hook is set by the package that owns the field, in its init.
package testhook

import "github.com/reprieve/reprieve/internal/clock"

// SetPoolClock sets the clock of a *client.PoolConfig (cfg); set by
// package client.
var SetPoolClock func(cfg any, c clock.Clock)

// EventLooped returns how many connections of a *server.Server (s) the
// job port's event loop serves now; set by package server.
var EventLooped func(s any) int
