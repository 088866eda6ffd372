package sock

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

// Dup returns a duplicate of tc's descriptor (close-on-exec,
// non-blocking like tc's), for a loop to serve with Read and Write. The
// caller closes tc afterwards, which takes the socket out of the
// runtime's poller (else every request would also wake a runtime thread
// for nothing) and leaves it open through the duplicate.
func Dup(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("sock: %w", err)
	}
	fd, errno := -1, syscall.Errno(0)
	if err := rc.Control(func(d uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, d, syscall.F_DUPFD_CLOEXEC, 0)
		fd, errno = int(r), e
	}); err != nil {
		return -1, fmt.Errorf("sock: %w", err)
	}
	if errno != 0 {
		return -1, fmt.Errorf("sock: duplicate a descriptor: %w", errno)
	}
	return fd, nil
}

// Read reads from the non-blocking socket fd into p: the bytes read, or
// syscall.EAGAIN if it has none now, or another errno; 0 and nil at the
// end of the stream (p not empty). EINTR is retried.
func Read(fd int, p []byte) (int, error) {
	return raw(syscall.SYS_READ, fd, p)
}

// Write writes to the non-blocking socket fd what it takes now of p: the
// bytes written, or syscall.EAGAIN if it takes none, or another errno.
// EINTR is retried.
func Write(fd int, p []byte) (int, error) {
	return raw(syscall.SYS_WRITE, fd, p)
}

func raw(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return retry(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
}

// EpollPoll returns the events ready on the epoll instance ep now, up to
// len(evs), without waiting (epoll_wait with a timeout of 0), by a raw
// system call. EINTR is retried.
func EpollPoll(ep int, evs []syscall.EpollEvent) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	return retry(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)))
}

// retry makes the raw system call trap(a1, a2, a3, 0, 0, 0) until it is
// not interrupted.
func retry(trap, a1, a2, a3 uintptr) (int, error) {
	for {
		n, _, errno := syscall.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}
