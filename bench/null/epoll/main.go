//go:build linux

// Command epoll is a beanstalkd-protocol server that stores nothing, built
// like beanstalkd: one epoll loop on one locked OS thread, raw read and
// write system calls, no goroutine per connection. It answers as
// bench/null/netpoll does. bench/ceiling uses it as the fastest a Go server
// with its own event loop can be on this machine.
//
// Usage: epoll PORT   (listens on 127.0.0.1:PORT)
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/reprieve/reprieve/bench/null/answer"
)

// conn is one connection's buffers.
type conn struct {
	fd   int
	buf  []byte
	n    int // bytes buffered in buf
	skip int // body bytes still to drop
	a    answer.Answerer
	out  []byte
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: epoll PORT")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err == nil {
		err = loop(port)
	}
	fmt.Fprintln(os.Stderr, "epoll:", err)
	os.Exit(1)
}

// loop accepts and serves connections until a system call fails.
func loop(port int) error {
	runtime.LockOSThread()
	ls, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	_ = syscall.SetsockoptInt(ls, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(ls, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	if err := syscall.Listen(ls, 1024); err != nil {
		return err
	}
	ep, err := syscall.EpollCreate1(0)
	if err != nil {
		return err
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, ls, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(ls)}); err != nil {
		return err
	}
	conns := map[int32]*conn{}
	evs := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(ep, evs, -1)
		if err == syscall.EINTR {
			continue
		} else if err != nil {
			return err
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == ls {
				fd, _, err := syscall.Accept4(ls, syscall.SOCK_NONBLOCK)
				if err != nil {
					continue
				}
				_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
				conns[int32(fd)] = &conn{fd: fd, buf: make([]byte, 64<<10)}
				_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
				continue
			}
			c := conns[ev.Fd]
			if c.serve() != nil {
				syscall.Close(c.fd)
				delete(conns, ev.Fd)
			}
		}
	}
}

// serve reads what the socket has and answers every complete command.
func (c *conn) serve() error {
	r, err := syscall.Read(c.fd, c.buf[c.n:])
	if err == syscall.EAGAIN {
		return nil
	} else if err != nil {
		return err
	} else if r == 0 {
		return syscall.ECONNRESET
	}
	c.n += r
	c.out = c.out[:0]
	pos := 0
	for {
		if c.skip > 0 {
			k := min(c.n-pos, c.skip)
			pos += k
			c.skip -= k
			if c.skip > 0 {
				break
			}
		}
		i := bytes.IndexByte(c.buf[pos:c.n], '\n')
		if i < 0 {
			break
		}
		reply, skip := c.a.Answer(c.buf[pos : pos+i+1])
		c.out = append(c.out, reply...)
		c.skip = skip
		pos += i + 1
	}
	c.n = copy(c.buf, c.buf[pos:c.n])
	if c.n == len(c.buf) {
		return syscall.E2BIG // a line longer than the buffer
	}
	if len(c.out) > 0 {
		_, err = syscall.Write(c.fd, c.out)
	}
	return err
}
