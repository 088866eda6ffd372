//go:build !linux

package server

import "errors"

// loop is Linux's event loop (loop_linux.go); elsewhere every connection
// has its goroutine.
type loop struct{}

func startLoop(*Server) (*loop, error) {
	return nil, errors.New("server: event loop: only on Linux")
}

func (*loop) take(*Conn) bool                   { return false }
func (c *Conn) closeSocket()                    { c.nc.Close() }
func (*loop) stopAll()                          {}
func (*loop) killAll()                          {}
func (*loop) end()                              {}
func (c *Conn) loopRead([]byte) (int, error)    { return 0, errWouldBlock }
func (c *Conn) loopWrite(p []byte) (int, error) { return c.nc.Write(p) }
