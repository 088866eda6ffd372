package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/reprieve/reprieve/internal/servertest"
)

// start runs the server with loops event loops on a free port and returns
// its address; the test's cleanup stops it and checks it stopped cleanly.
func start(t *testing.T, loops int) string {
	t.Helper()
	free, err := servertest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	booted := make(chan gnet.Engine, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(free.Port, loops, &null{booted: booted}) }()
	var eng gnet.Engine
	select {
	case eng = <-booted:
	case err := <-errc:
		t.Fatalf("serve(%d, %d) = %v", free.Port, loops, err)
	}
	t.Cleanup(func() {
		if err := eng.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("serve returned %v after stop", err)
		}
	})
	return free.String()
}

// exchange writes send and reads exactly len(want) bytes back.
func exchange(t *testing.T, nc net.Conn, send, want string) {
	t.Helper()
	if _, err := io.WriteString(nc, send); err != nil {
		t.Fatalf("write %q: %v", send, err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatalf("after %q read %q: %v", send, got, err)
	}
	if string(got) != want {
		t.Fatalf("after %q got %q, want %q", send, got, want)
	}
}

// TestServe speaks to the server over real sockets: pipelined commands
// answered in order, a body and a line split across writes, a line longer
// than 64 KiB closing only its own connection.
func TestServe(t *testing.T) {
	for _, loops := range []int{1, 0} {
		t.Run("loops="+strconv.Itoa(loops), func(t *testing.T) {
			hostport := start(t, loops)
			nc, err := net.Dial("tcp", hostport)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var others []net.Conn
			for range 2 {
				o, err := net.Dial("tcp", hostport)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				others = append(others, o)
			}
			x64 := strings.Repeat("x", 64)
			exchange(t, nc, "use bench\r\nput 0 0 60 5\r\nhello\r\nreserve\r\ndelete 2\r\nstats\r\n",
				"USING bench\r\nINSERTED 1\r\nRESERVED 2 64\r\n"+x64+"\r\nDELETED\r\nUNKNOWN_COMMAND\r\n")
			exchange(t, nc, "put 0 0 60 10\r\n01234", "INSERTED 3\r\n")
			// The rest of the body is dropped, not read as a command, and
			// a line in two writes is answered once whole.
			exchange(t, nc, "56789\r\nput 0 0", "")
			exchange(t, nc, " 60 0\r\n\r\n", "INSERTED 4\r\n")
			// A part of a line and nothing else is kept for the rest: a
			// round trip on each of two later connections (one shares nc's
			// event loop) has the part read before the rest is sent.
			exchange(t, nc, "use", "")
			for _, o := range others {
				exchange(t, o, "use o\r\n", "USING o\r\n")
			}
			exchange(t, nc, " other\r\n", "USING other\r\n")

			long, err := net.Dial("tcp", hostport)
			if err != nil {
				t.Fatal(err)
			}
			defer long.Close()
			io.WriteString(long, strings.Repeat("x", maxLine)) // may fail once the server closes
			if got, _ := io.ReadAll(long); len(got) != 0 {
				t.Errorf("a line of %d bytes got %q, want the connection closed", maxLine, got)
			}
			exchange(t, nc, "reserve-with-timeout 0\r\n", "RESERVED 5 64\r\n"+x64+"\r\n")
		})
	}
}
