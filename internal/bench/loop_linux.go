package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/reprieve/reprieve/internal/sock"
)

// loopSupported reports whether Config.EventLoop can be used here.
const loopSupported = true

// runLoop runs every worker from one goroutine on a locked OS thread, as
// bench/null/c/gen.c does: it waits in epoll_wait for all the
// connections, reads what a socket has with one read system call, handles
// every reply received whole, and sends the next requests with one write.
// No goroutine parks or wakes per request, so the generator costs less
// CPU per request than one goroutine per connection (docs/performance.md,
// "Two generators that agree"). It returns the first error; if ctx is
// cancelled, it starts nothing new and gives the replies in flight a few
// seconds.
func runLoop(ctx context.Context, ws []*worker, sh *shared) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("bench: event loop: %w", err)
	}
	defer syscall.Close(ep)
	byFD := make(map[int32]*worker, len(ws))
	for _, w := range ws {
		if err := w.c.takeFD(); err != nil {
			return err
		}
		byFD[int32(w.c.fd)] = w
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(w.c.fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, w.c.fd, &ev); err != nil {
			return fmt.Errorf("bench: event loop: %w", err)
		}
	}
	active := 0
	for _, w := range ws {
		more, err := w.send()
		if err != nil {
			return err
		}
		if more {
			active++
		} else {
			delete(byFD, int32(w.c.fd))
		}
	}
	var deadline time.Time // set once ctx is done
	evs := make([]syscall.EpollEvent, 128)
	for active > 0 {
		n, err := sock.EpollPoll(ep, evs)
		if n == 0 && err == nil {
			n, err = syscall.EpollWait(ep, evs, 100)
		}
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("bench: event loop: %w", err)
		}
		if ctx.Err() != nil {
			sh.stop.Store(true)
			if deadline.IsZero() {
				deadline = time.Now().Add(3 * time.Second)
			} else if time.Now().After(deadline) {
				return fmt.Errorf("bench: replies still awaited after the run was cancelled: %w", ctx.Err())
			}
		}
		for _, ev := range evs[:max(n, 0)] {
			w := byFD[ev.Fd]
			if w == nil {
				continue
			}
			more, err := w.receive()
			if err != nil {
				return err
			}
			if !more {
				_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, w.c.fd, nil)
				delete(byFD, ev.Fd)
				active--
			}
		}
	}
	return nil
}

// receive reads what the worker's socket has, handles every reply
// received whole and sends the requests that follow; it reports whether
// the worker has more to do.
func (w *worker) receive() (bool, error) {
	r := w.c.r
	if _, err := r.Peek(r.Buffered() + 1); err != nil && err != errWouldBlock && err != bufio.ErrBufferFull {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, fmt.Errorf("bench: read reply: %w", err)
	}
	for w.n > 0 {
		whole, err := replyBuffered(r)
		if err != nil {
			return false, err
		}
		if !whole {
			break
		}
		line, err := w.c.readLine()
		if err != nil {
			return false, err
		}
		if err := w.handle(w.pop(), line, w.sh.now()); err != nil {
			return false, err
		}
	}
	return w.send()
}

// send starts what requests the worker may and writes every command
// buffered; it reports whether the worker has more to do (replies to
// wait for).
func (w *worker) send() (bool, error) {
	now := w.sh.now()
	for w.inflight < w.pipeline && w.canStart() {
		w.start(now)
	}
	if err := w.c.w.Flush(); err != nil {
		return false, fmt.Errorf("bench: send: %w", err)
	}
	return w.n > 0, nil
}

// replyBuffered reports whether r holds a whole reply: a line and, for
// RESERVED and FOUND, the body after it.
func replyBuffered(r *bufio.Reader) (bool, error) {
	buf, _ := r.Peek(r.Buffered())
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if len(buf) == r.Size() {
			return false, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, r.Size())
		}
		return false, nil
	}
	line := buf[:i]
	if !bytes.HasPrefix(line, []byte("RESERVED ")) && !bytes.HasPrefix(line, []byte("FOUND ")) {
		return true, nil
	}
	n, ok := atoi(bytes.TrimSuffix(word(line, 2), []byte{'\r'}))
	if !ok || n > uint64(r.Size()-i-3) {
		return false, fmt.Errorf("%w: %q (a body the event loop's %d-byte buffer cannot hold)", ErrProtocol, line, r.Size())
	}
	return len(buf) >= i+1+int(n)+2, nil
}

// errWouldBlock is what a read of the loop's socket returns when it has
// nothing more.
var errWouldBlock = errors.New("bench: read would block")

// takeFD moves the connection off the runtime's poller: it reads and
// writes a duplicate of the socket's descriptor with raw system calls,
// and closes the net.Conn (a socket left in the poller would wake a
// runtime thread at each reply for nothing). c.nc still names the server.
func (c *conn) takeFD() error {
	if c.r.Buffered() > 0 || c.w.Buffered() > 0 {
		return fmt.Errorf("bench: event loop: connection has unhandled bytes")
	}
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("%w: the event loop serves plain TCP connections only", ErrConfig)
	}
	fd, err := sock.Dup(tc)
	if err != nil {
		return fmt.Errorf("bench: event loop: %w", err)
	}
	c.fd = fd
	c.nc.Close()
	c.r = bufio.NewReaderSize(rawReader(fd), connBufSize)
	c.w = bufio.NewWriterSize(rawWriter(fd), connBufSize)
	return nil
}

// closeFD closes the event loop's descriptor, if it has one.
func (c *conn) closeFD() {
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}

// rawReader reads a non-blocking socket: errWouldBlock if it has nothing.
type rawReader int

func (fd rawReader) Read(p []byte) (int, error) {
	n, err := sock.Read(int(fd), p)
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawWriter writes all of p to a non-blocking socket, waiting for room
// when the socket is full.
type rawWriter int

func (fd rawWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := sock.Write(int(fd), p[done:])
		switch {
		case err == syscall.EAGAIN:
			if err := waitWritable(int(fd)); err != nil {
				return done, err
			}
		case err != nil:
			return done, err
		default:
			done += n
		}
	}
	return done, nil
}

// waitWritable blocks until fd can take more bytes (or has an error).
func waitWritable(fd int) error {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: 0x4} // POLLOUT
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, 0, 0, 0, 0)
		if errno == 0 {
			return nil
		}
		if errno != syscall.EINTR {
			return errno
		}
	}
}
