// Command netpoll is a beanstalkd-protocol server that stores nothing,
// built the way Reprieve's server is: a goroutine per connection on Go's
// netpoller, replies buffered and flushed when the input runs dry. It
// answers "use" with USING and "put" with INSERTED (dropping the body),
// anything else with UNKNOWN_COMMAND. bench/ceiling uses it as the fastest
// a goroutine-per-connection Go server can be on this machine.
//
// Usage: netpoll PORT   (listens on 127.0.0.1:PORT)
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/reprieve/reprieve/bench/null/answer"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: netpoll PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "netpoll:", err)
		os.Exit(1)
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "netpoll:", err)
			os.Exit(1)
		}
		go serve(nc)
	}
}

// flushing sends the buffered replies before each read from the socket.
type flushing struct {
	w  *bufio.Writer
	nc net.Conn
}

func (f flushing) Read(p []byte) (int, error) {
	if f.w.Buffered() > 0 {
		if err := f.w.Flush(); err != nil {
			return 0, err
		}
	}
	return f.nc.Read(p)
}

func serve(nc net.Conn) {
	defer nc.Close()
	w := bufio.NewWriterSize(nc, 8<<10)
	r := bufio.NewReaderSize(flushing{w, nc}, 8<<10)
	var a answer.Answerer
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		reply, skip := a.Answer(line)
		w.Write(reply)
		if skip > 0 {
			if _, err := r.Discard(skip); err != nil && err != io.EOF {
				return
			}
		}
	}
}
