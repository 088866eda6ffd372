// Command burst opens many connections to a beanstalkd-protocol server,
// has each send a put whose body it only partly sends, holds them, then
// hangs up: the memory burst of many slow producers (or a slowloris) that
// go away. bench/memory runs it and watches the server's resident memory.
//
// Usage: go run ./bench/burst [--addr HOST:PORT] [--conns N] [--size B] [--sent B] [--hold D]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:11300", "server `host:port`")
	conns := flag.Int("conns", 5000, "connections")
	size := flag.Int("size", 65535, "announced body size in `bytes`")
	sent := flag.Int("sent", 32768, "body bytes actually sent on each connection")
	hold := flag.Duration("hold", 2*time.Second, "how long to hold the connections before hanging up")
	flag.Parse()
	if err := run(*addr, *conns, *size, *sent, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		os.Exit(1)
	}
}

func run(addr string, conns, size, sent int, hold time.Duration) error {
	if sent < 0 || sent >= size {
		return fmt.Errorf("--sent %d must be in 0…%d (less than --size)", sent, size-1)
	}
	msg := []byte(fmt.Sprintf("put 0 0 60 %d\r\n%s", size, strings.Repeat("x", sent)))
	open := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		open = append(open, c)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("connection %d: write: %w", i+1, err)
		}
	}
	fmt.Printf("%d connections hold %d of %d body bytes each\n", conns, sent, size)
	time.Sleep(hold)
	return nil
}
