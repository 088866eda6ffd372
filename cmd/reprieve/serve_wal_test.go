package main

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// testServeIDsAcrossRestarts: with a data directory, the first job of a new
// log gets id 1, and after a SIGKILL and a restart the next put gets the
// id high-water mark the log kept (16384 ahead of the first put, see
// docs/wal.md): ids are never reused, even after a torn tail.
func testServeIDsAcrossRestarts(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "data")
	put := func(p *reprieveProc, want string) {
		t.Helper()
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, "put 0 0 60 2\r\nhi\r\n"); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("put: got %q, %v; want %q\n%s", got, err, want, p.output())
		}
	}
	p := startReprieve(t, bin, freePort(t), "--data", dir, "--fsync", "always")
	put(p, "INSERTED 1\r\n")
	put(p, "INSERTED 2\r\n")
	p.kill(t)
	p = startReprieve(t, bin, freePort(t), "--data", dir, "--fsync", "always")
	put(p, "INSERTED 16385\r\n")
}
