package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/reprieve/reprieve/internal/server"
)

// benchConns is the number of client connections, as in the load of the
// project's performance targets.
const benchConns = 8

var body64 = strings.Repeat("x", 64)

// BenchmarkPut measures puts of 64-byte jobs over TCP, 8 connections, each
// waiting for its reply before the next put.
func BenchmarkPut(b *testing.B) {
	_, addr, _ := start(b, server.Config{})
	cmd := []byte("put 1024 0 60 64\r\n" + body64 + "\r\n")
	runConns(b, addr, func(c net.Conn, r *bufio.Reader) error {
		if _, err := c.Write(cmd); err != nil {
			return err
		}
		line, err := r.ReadSlice('\n')
		if err != nil || !bytes.HasPrefix(line, []byte("INSERTED ")) {
			return fmt.Errorf("put: %q %v", line, err)
		}
		return nil
	})
}

// BenchmarkPutPipelined measures puts sent 100 per write.
func BenchmarkPutPipelined(b *testing.B) {
	_, addr, _ := start(b, server.Config{})
	one := "put 1024 0 60 64\r\n" + body64 + "\r\n"
	const batch = 100
	cmd := []byte(strings.Repeat(one, batch))
	b.SetBytes(int64(len(one)))
	runConns(b, addr, func(c net.Conn, r *bufio.Reader) error {
		if _, err := c.Write(cmd); err != nil {
			return err
		}
		for i := 0; i < batch; i++ {
			if line, err := r.ReadSlice('\n'); err != nil || line[0] != 'I' {
				return fmt.Errorf("put: %q %v", line, err)
			}
		}
		return nil
	}, batch)
}

// BenchmarkReserveDelete measures put, reserve and delete of one 64-byte
// job per iteration, 8 connections.
func BenchmarkReserveDelete(b *testing.B) {
	_, addr, _ := start(b, server.Config{})
	put := []byte("put 1024 0 60 64\r\n" + body64 + "\r\n")
	runConns(b, addr, func(c net.Conn, r *bufio.Reader) error {
		if _, err := c.Write(put); err != nil {
			return err
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			return err
		}
		if _, err := io.WriteString(c, "reserve\r\n"); err != nil {
			return err
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		var id uint64
		var n int
		if _, err := fmt.Sscanf(string(line), "RESERVED %d %d\r\n", &id, &n); err != nil {
			return fmt.Errorf("reserve: %q", line)
		}
		if _, err := r.Discard(n + 2); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(c, "delete %d\r\n", id); err != nil {
			return err
		}
		if line, err := r.ReadSlice('\n'); err != nil || string(line) != "DELETED\r\n" {
			return fmt.Errorf("delete: %q %v", line, err)
		}
		return nil
	})
}

// runConns runs b.N operations (of per iterations each) spread over
// benchConns connections.
func runConns(b *testing.B, addr string, op func(net.Conn, *bufio.Reader) error, per ...int) {
	n := 1
	if len(per) > 0 {
		n = per[0]
	}
	ops := b.N / n
	if ops == 0 {
		ops = 1
	}
	conns := make([]net.Conn, benchConns)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, benchConns)
	for i, c := range conns {
		share := ops / benchConns
		if i < ops%benchConns {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReader(c)
			for k := 0; k < share; k++ {
				if err := op(c, r); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
