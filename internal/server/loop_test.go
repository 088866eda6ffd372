//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/server"
)

// send writes cmds on c.
func send(t *testing.T, c net.Conn, cmds string) {
	t.Helper()
	if _, err := io.WriteString(c, cmds); err != nil {
		t.Fatal(err)
	}
}

// expect reads one line from r and fails unless it is want.
func expect(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	if got := line(t, r); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEventLoopServesPlainConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		goroutines bool
		looped     int
	}{{"loop", false, 2}, {"goroutines", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, addr, _ := start(t, server.Config{Goroutines: tc.goroutines})
			a, ra := dial(t, addr)
			b, rb := dial(t, addr)
			send(t, a, "put 0 0 60 2\r\nhi\r\n")
			expect(t, ra, "INSERTED 1\r\n")
			send(t, b, "reserve\r\ndelete 1\r\n")
			expect(t, rb, "RESERVED 1 2\r\n")
			expect(t, rb, "hi\r\n")
			expect(t, rb, "DELETED\r\n")
			if got := srv.Looped(); got != tc.looped {
				t.Fatalf("the loop serves %d connections, want %d", got, tc.looped)
			}
		})
	}
}

// A reserve that must wait is handed to a goroutine, which answers it and
// keeps the connection (a worker waits again soon); a hang-up while it
// waits is noticed.
func TestEventLoopHandsOffABlockedReserve(t *testing.T) {
	t.Parallel()
	srv, addr, _ := start(t, server.Config{})
	worker, rw := dial(t, addr)
	producer, rp := dial(t, addr)
	send(t, producer, "use default\r\n")
	expect(t, rp, "USING default\r\n")
	send(t, worker, "reserve\r\n")
	poll.Until(t, "the reserve is handed to a goroutine", func() bool { return srv.Looped() == 1 })
	send(t, producer, "put 5 0 60 3\r\nabc\r\n")
	expect(t, rp, "INSERTED 1\r\n")
	expect(t, rw, "RESERVED 1 3\r\n")
	expect(t, rw, "abc\r\n")
	send(t, worker, "delete 1\r\nreserve-with-timeout 0\r\n")
	expect(t, rw, "DELETED\r\n")
	expect(t, rw, "TIMED_OUT\r\n")
	send(t, producer, "put 5 0 60 1\r\nz\r\n")
	expect(t, rp, "INSERTED 2\r\n")
	if got := srv.Looped(); got != 1 {
		t.Fatalf("the loop serves %d connections, want 1: the producer, not the worker", got)
	}
	send(t, worker, "reserve-with-timeout 0\r\ndelete 2\r\n")
	expect(t, rw, "RESERVED 2 1\r\n")
	expect(t, rw, "z\r\n")
	expect(t, rw, "DELETED\r\n")

	// A worker that hangs up while it waits is noticed by its goroutine.
	gone, _ := dial(t, addr)
	send(t, gone, "reserve\r\n")
	poll.Until(t, "the reserve waits", func() bool { return statsValue(t, producer, rp, "current-waiting") == "1" })
	gone.Close()
	poll.Until(t, "the hung-up reserve ends", func() bool { return statsValue(t, producer, rp, "current-waiting") == "0" })
	poll.Until(t, "the hung-up connection is gone", func() bool {
		return statsValue(t, producer, rp, "current-connections") == "2"
	})
}

// A body larger than a connection's buffer is read by a goroutine, and
// the connection comes back to the loop.
func TestEventLoopHandsOffALargeBody(t *testing.T) {
	t.Parallel()
	srv, addr, _ := start(t, server.Config{})
	c, r := dial(t, addr)
	body := strings.Repeat("0123456789", 5000) // 50,000 bytes
	send(t, c, fmt.Sprintf("put 0 0 60 %d\r\n%s\r\nput 0 0 60 1\r\nx\r\n", len(body), body))
	expect(t, r, "INSERTED 1\r\n")
	expect(t, r, "INSERTED 2\r\n")
	poll.Until(t, "the connection is back on the loop", func() bool { return srv.Looped() == 1 })
	send(t, c, "peek 1\r\n")
	expect(t, r, fmt.Sprintf("FOUND 1 %d\r\n", len(body)))
	if got := line(t, r); got != body+"\r\n" {
		t.Fatalf("peek returned a body of %d bytes, want the %d put", len(got)-2, len(body))
	}
}

// Replies the socket does not take at once (a client that reads only after
// sending everything) are sent in order by a goroutine.
func TestEventLoopHandsOffRepliesTheSocketDoesNotTake(t *testing.T) {
	t.Parallel()
	_, addr, _ := start(t, server.Config{})
	c, r := dial(t, addr)
	body := strings.Repeat("y", 60000)
	send(t, c, fmt.Sprintf("put 0 0 60 %d\r\n%s\r\n", len(body), body))
	expect(t, r, "INSERTED 1\r\n")
	const peeks = 300 // 18 MB of replies: more than loopback's buffers hold
	go func() {
		_, _ = io.WriteString(c, strings.Repeat("peek 1\r\n", peeks)+"stats-job 1\r\n")
	}()
	for i := range peeks {
		expect(t, r, "FOUND 1 60000\r\n")
		if got := line(t, r); got != body+"\r\n" {
			t.Fatalf("peek %d: a body of %d bytes", i, len(got)-2)
		}
	}
	if got := line(t, r); !strings.HasPrefix(got, "OK ") {
		t.Fatalf("stats-job after the peeks: %q", got)
	}
}

// Shutdown closes a loop connection waiting for a command, or for the rest
// of its line, and lets one whose line has come finish its command.
func TestEventLoopShutdown(t *testing.T) {
	t.Parallel()
	srv, addr, wait := start(t, server.Config{})
	idle, ri := dial(t, addr)
	half, rh := dial(t, addr)
	body, rb := dial(t, addr)
	send(t, idle, "use a\r\n")
	expect(t, ri, "USING a\r\n")
	send(t, half, "put 0 0")
	send(t, body, "put 0 0 60 5\r\nab")
	poll.Until(t, "the loop serves all three", func() bool { return srv.Looped() == 3 })
	go func() { _ = srv.Shutdown(t.Context()) }()
	expectEOF(t, ri)
	expectEOF(t, rh)
	send(t, body, "cde\r\n")
	expect(t, rb, "INSERTED 1\r\n")
	expectEOF(t, rb)
	if err := wait(); err != server.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
}
