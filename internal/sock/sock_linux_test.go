package sock_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/reprieve/reprieve/internal/sock"
)

// pair returns a duplicate descriptor of one end of a loopback TCP
// connection (its net.Conn closed) and the other end.
func pair(t testing.TB) (int, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sock.Dup(nc.(*net.TCPConn))
	nc.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd, peer
}

// bothEnds returns duplicate descriptors of both ends of a loopback TCP
// connection.
func bothEnds(t testing.TB) (int, int) {
	t.Helper()
	fd, peer := pair(t)
	pfd, err := sock.Dup(peer.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(pfd) })
	return fd, pfd
}

func TestReadWriteOnADuplicate(t *testing.T) {
	fd, peer := pair(t)
	buf := make([]byte, 16)
	if n, err := sock.Read(fd, buf); n != 0 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("read of an empty socket: %d, %v; want 0, EAGAIN", n, err)
	}
	if _, err := peer.Write([]byte("put 0 0 1 1\r\n")); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 13 { // the bytes may come in more than one read
		n, err := sock.Read(fd, buf[got:])
		if errors.Is(err, syscall.EAGAIN) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if string(buf[:got]) != "put 0 0 1 1\r\n" {
		t.Fatalf("read %q", buf[:got])
	}
	if n, err := sock.Write(fd, []byte("INSERTED 1\r\n")); n != 12 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	reply := make([]byte, 12)
	if _, err := peer.Read(reply); err != nil || string(reply) != "INSERTED 1\r\n" {
		t.Fatalf("peer read %q, %v", reply, err)
	}
	if n, err := sock.Write(fd, nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	peer.Close()
	for {
		n, err := sock.Read(fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			continue
		}
		if n != 0 || err != nil {
			t.Fatalf("read after the peer closed: %d, %v; want 0, nil", n, err)
		}
		break
	}
	if _, err := sock.Write(fd, []byte("x")); !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		// The first write after a close may still be taken; the peer
		// then resets and the next fails.
		if _, err := sock.Write(fd, []byte("x")); err == nil {
			t.Fatal("writes to a closed peer succeed")
		}
	}
}

func TestReadOfAClosedDescriptor(t *testing.T) {
	if _, err := sock.Read(-1, make([]byte, 1)); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("read of fd -1: %v, want EBADF", err)
	}
}

// BenchmarkWriteRead measures one 64-byte write and its read over
// loopback TCP, as the loops do per request: by Read and Write (raw), and
// by syscall.Read and syscall.Write (the runtime's bookkeeping for a
// system call that may block) for comparison.
func BenchmarkWriteRead(b *testing.B) {
	b.Run("raw", func(b *testing.B) { benchWriteRead(b, sock.Read, sock.Write) })
	b.Run("syscall", func(b *testing.B) { benchWriteRead(b, syscall.Read, syscall.Write) })
}

func benchWriteRead(b *testing.B, read, write func(int, []byte) (int, error)) {
	fd, pfd := bothEnds(b)
	msg, buf := make([]byte, 64), make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := write(fd, msg); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < len(msg); {
			n, err := read(pfd, buf)
			if err == nil {
				got += n
			} else if !errors.Is(err, syscall.EAGAIN) {
				b.Fatal(err)
			}
		}
	}
}

func TestEpollPollDoesNotWait(t *testing.T) {
	fd, peer := pair(t)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		t.Fatal(err)
	}
	evs := make([]syscall.EpollEvent, 4)
	if n, err := sock.EpollPoll(ep, evs); n != 0 || err != nil {
		t.Fatalf("poll of an idle socket: %d, %v; want 0, nil", n, err)
	}
	if n, err := sock.EpollPoll(ep, nil); n != 0 || err != nil {
		t.Fatalf("poll into no room: %d, %v", n, err)
	}
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// The byte is on its way through loopback: wait for it as the loop
	// would, then poll.
	if n, err := syscall.EpollWait(ep, evs, -1); n != 1 || err != nil {
		t.Fatalf("wait: %d, %v", n, err)
	}
	n, err := sock.EpollPoll(ep, evs)
	if n != 1 || err != nil || evs[0].Fd != int32(fd) || evs[0].Events&syscall.EPOLLIN == 0 {
		t.Fatalf("poll of a readable socket: %d, %v, %+v", n, err, evs[:n])
	}
	if _, err := sock.EpollPoll(-1, evs); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("poll of fd -1: %v, want EBADF", err)
	}
}

// TestReadWriteDoNotAllocate: a loop's read and write of a request cost
// no allocation (the count is a contract of the loops' hot path).
func TestReadWriteDoNotAllocate(t *testing.T) {
	fd, pfd := bothEnds(t)
	msg, buf := make([]byte, 64), make([]byte, 64)
	evs := make([]syscall.EpollEvent, 4)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := sock.Write(fd, msg); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(msg); {
			n, err := sock.Read(pfd, buf)
			if err == nil {
				got += n
			}
		}
		_, _ = sock.EpollPoll(ep, evs)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write, read and poll, want 0", allocs)
	}
}
