// Package apitest holds the test that uses the public packages (client,
// worker, server) from a Go module of its own, as a user would.
package apitest
