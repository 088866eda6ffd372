// Command gnet is a beanstalkd-protocol server that stores nothing, built
// on github.com/panjf2000/gnet/v2: epoll event loops run by a well-kept
// library instead of our own (bench/null/epoll). It answers as
// bench/null/netpoll does. bench/ceiling uses it to compare a library's
// event loop with our own before choosing one for Reprieve.
//
// Usage: gnet PORT [LOOPS]   (listens on 127.0.0.1:PORT)
//
// LOOPS is the number of event loops, each on its own locked OS thread;
// 1 (the default) is bench/null/epoll's design, 0 is gnet's multicore mode
// (one loop per CPU).
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/reprieve/reprieve/bench/null/answer"
)

// maxLine is the longest command line buffered before the connection is
// closed, bench/null/epoll's read buffer.
const maxLine = 64 << 10

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: gnet PORT [LOOPS]")
		os.Exit(2)
	}
	loops := 1
	port, err := strconv.Atoi(os.Args[1])
	if err == nil && len(os.Args) == 3 {
		loops, err = strconv.Atoi(os.Args[2])
	}
	if err == nil {
		err = serve(port, loops, &null{})
	}
	fmt.Fprintln(os.Stderr, "gnet:", err)
	os.Exit(1)
}

// serve runs h on 127.0.0.1:port with loops event loops (0: one per CPU)
// until the engine is stopped or fails.
func serve(port, loops int, h *null) error {
	if loops == 0 {
		loops = runtime.NumCPU()
	}
	return gnet.Run(h, "tcp://127.0.0.1:"+strconv.Itoa(port),
		gnet.WithNumEventLoop(loops),
		gnet.WithLockOSThread(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true))
}

// null is the event handler; its state is per connection, in conn.
type null struct {
	gnet.BuiltinEventEngine
	booted chan<- gnet.Engine // if not nil, is sent the engine once it listens
}

func (h *null) OnBoot(eng gnet.Engine) gnet.Action {
	if h.booted != nil {
		h.booted <- eng
	}
	return gnet.None
}

// conn is one connection's state, kept in its gnet context.
type conn struct {
	skip int // body bytes still to drop
	a    answer.Answerer
	out  []byte
}

func (*null) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&conn{})
	return nil, gnet.None
}

// OnTraffic answers every complete command buffered and writes the
// replies with one call, as bench/null/epoll does.
func (*null) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*conn)
	buf, _ := c.Peek(-1)
	s.out = s.out[:0]
	pos := 0
	for {
		if s.skip > 0 {
			k := min(len(buf)-pos, s.skip)
			pos += k
			s.skip -= k
			if s.skip > 0 {
				break
			}
		}
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			break
		}
		reply, skip := s.a.Answer(buf[pos : pos+i+1])
		s.out = append(s.out, reply...)
		s.skip = skip
		pos += i + 1
	}
	if pos > 0 { // Discard(0) would drop everything buffered
		if _, err := c.Discard(pos); err != nil {
			return gnet.Close
		}
	}
	if len(s.out) > 0 {
		if _, err := c.Write(s.out); err != nil {
			return gnet.Close
		}
	}
	if len(buf)-pos >= maxLine {
		return gnet.Close // a line longer than bench/null/epoll's buffer
	}
	return gnet.None
}
