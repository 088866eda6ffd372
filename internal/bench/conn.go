package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Errors of the load generator.
var (
	// ErrProtocol means the server sent a reply the generator cannot follow.
	ErrProtocol = errors.New("bench: unexpected reply")
	// ErrConfig means a Config is invalid; the message says which field.
	ErrConfig = errors.New("bench: invalid configuration")
)

// conn is one client connection that writes commands into a buffer and
// flushes them in batches, and reads replies in place from a buffered reader
// (ReadSlice), so that a request costs no allocation and a batch of
// requests costs one write and usually one read system call.
type conn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	scratch []byte // reused to format commands with numeric arguments
	// fd is the descriptor the event loop reads and writes (Config.EventLoop;
	// nc is then closed), -1 otherwise.
	fd int
}

const connBufSize = 64 << 10

// dial connects to addr, over TLS if tlsConfig is not nil.
func dial(ctx context.Context, addr string, tlsConfig *tls.Config) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench: connect to %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if tlsConfig != nil {
		cfg := tlsConfig
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("bench: TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	return &conn{
		nc:      nc,
		r:       bufio.NewReaderSize(nc, connBufSize),
		w:       bufio.NewWriterSize(nc, connBufSize),
		scratch: make([]byte, 0, 128),
		fd:      -1,
	}, nil
}

func (c *conn) close() error {
	c.closeFD()
	return c.nc.Close()
}

// readLine returns the next reply line without its CRLF. The slice is valid
// until the next read.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, connBufSize)
		}
		return nil, fmt.Errorf("bench: read reply: %w", err)
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
}

// roundTrip sends one command line and returns its reply line; for setup
// and teardown only.
func (c *conn) roundTrip(cmd string) ([]byte, error) {
	c.w.WriteString(cmd)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("bench: send %q: %w", cmd, err)
	}
	return c.readLine()
}

// expect sends cmd and fails unless the reply starts with want.
func (c *conn) expect(cmd, want string) error {
	line, err := c.roundTrip(cmd)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte(want)) {
		return fmt.Errorf("%w: %q to %q, want %s", ErrProtocol, line, cmd, want)
	}
	return nil
}

// useTube makes puts go to tube; watchOnly makes reserves take from tube only.
func (c *conn) useTube(tube string) error { return c.expect("use "+tube, "USING") }

func (c *conn) watchOnly(tube string) error {
	if err := c.expect("watch "+tube, "WATCHING"); err != nil {
		return err
	}
	if tube == "default" {
		return nil
	}
	return c.expect("ignore default", "WATCHING")
}

func (c *conn) writeDelete(id uint64) {
	b := append(c.scratch[:0], "delete "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '\r', '\n')
	c.w.Write(b)
}

func (c *conn) writeRelease(id uint64, pri uint32, delay int) {
	b := append(c.scratch[:0], "release "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(pri), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(delay), 10)
	b = append(b, '\r', '\n')
	c.w.Write(b)
}

func (c *conn) writeBury(id uint64, pri uint32) {
	b := append(c.scratch[:0], "bury "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(pri), 10)
	b = append(b, '\r', '\n')
	c.w.Write(b)
}

// putHeader returns the command line of a put of size bytes, CRLF included.
func putHeader(pri uint32, ttr, size int) []byte {
	return []byte(fmt.Sprintf("put %d 0 %d %d\r\n", pri, ttr, size))
}

// reserveCmd returns a reserve-with-timeout command line, CRLF included.
func reserveCmd(timeout time.Duration) []byte {
	return []byte(fmt.Sprintf("reserve-with-timeout %d\r\n", int(timeout/time.Second)))
}

// writePut writes a put with the given pre-formatted header and body.
func (c *conn) writePut(header, body []byte) {
	c.w.Write(header)
	c.w.Write(body)
	c.w.WriteString("\r\n")
}

// word returns the i-th space-separated word of line (nil if absent),
// without allocating.
func word(line []byte, i int) []byte {
	for ; i > 0; i-- {
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil
		}
		line = line[sp+1:]
	}
	if sp := bytes.IndexByte(line, ' '); sp >= 0 {
		return line[:sp]
	}
	return line
}

// atoi parses a decimal unsigned number; ok is false for anything else.
func atoi(b []byte) (n uint64, ok bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + uint64(ch-'0')
	}
	return n, true
}

// reply kinds the workloads tell apart.
type replyKind uint8

const (
	replyOther replyKind = iota
	replyInserted
	replyReserved
	replyDeleted
	replyReleased
	replyBuried
	replyTimedOut
	replyDeadlineSoon
	replyFound
	replyNotFound
	replyUsing
)

var replyWords = []struct {
	word string
	kind replyKind
}{
	{"INSERTED", replyInserted},
	{"RESERVED", replyReserved},
	{"DELETED", replyDeleted},
	{"RELEASED", replyReleased},
	{"BURIED", replyBuried},
	{"TIMED_OUT", replyTimedOut},
	{"DEADLINE_SOON", replyDeadlineSoon},
	{"FOUND", replyFound},
	{"NOT_FOUND", replyNotFound},
	{"USING", replyUsing},
}

func kindOf(line []byte) replyKind {
	w := word(line, 0)
	for _, rw := range replyWords {
		if string(w) == rw.word { // no allocation: compared in place
			return rw.kind
		}
	}
	return replyOther
}

// readJob reads the body that follows a RESERVED or FOUND line. It returns
// the job id and, if stamp is true and the body is long enough, the
// timestamp written by a put-reserve-delete producer.
func (c *conn) readJob(line []byte, stamp bool) (id uint64, sent int64, err error) {
	id, ok1 := atoi(word(line, 1))
	n, ok2 := atoi(word(line, 2))
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("%w: %q", ErrProtocol, line)
	}
	if stamp && n >= stampLen {
		p, err := c.r.Peek(stampLen)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: read job body: %w", err)
		}
		v, ok := atoi(bytes.TrimLeft(p, "0"))
		if !ok && len(bytes.TrimLeft(p, "0")) > 0 {
			return 0, 0, fmt.Errorf("%w: job %d body has no bench timestamp", ErrProtocol, id)
		}
		sent = int64(v)
	}
	if _, err := c.r.Discard(int(n) + 2); err != nil {
		return 0, 0, fmt.Errorf("bench: read job body: %w", err)
	}
	return id, sent, nil
}

// stampLen is the width of the decimal nanosecond timestamp a producer
// writes at the start of each body in the put-reserve-delete workload.
const stampLen = 19

// writeStamp writes v as stampLen zero-padded decimal digits into b.
func writeStamp(b []byte, v int64) {
	for i := stampLen - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}
