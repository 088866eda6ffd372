package beanstalk

import (
	"bufio"
	"bytes"
	"io"
)

// Reader reads commands from a client's byte stream with beanstalkd's
// framing rules. It is not safe for concurrent use.
type Reader struct {
	br         *bufio.Reader
	maxJobSize uint32
	onLine     func()
	onDropped  func(bytes int)
	putBuffer  func(size int) []byte
	probe      Command // Ready's scratch parse
}

// OnLine sets f to be called each time a command line has been read,
// before its body is: a server uses it to know that a command is in
// flight.
func (r *Reader) OnLine(f func()) { r.onLine = f }

// PutBuffers sets f to provide the buffer of each put's body (of at most
// 16 KiB; larger bodies grow as they arrive, see readBody): f must return
// a slice of exactly size bytes that the reader may fill and hand over in
// Command.Body. A server uses it to allocate a body together with the
// job's record.
func (r *Reader) PutBuffers(f func(size int) []byte) { r.putBuffer = f }

// OnDropped sets f to be called with the bytes of memory a body held when
// the client hung up (or a read failed) before sending all of it: memory
// that is garbage from then on, for whoever returns memory to the OS.
func (r *Reader) OnDropped(f func(bytes int)) { r.onDropped = f }

// NewReader returns a Reader on br, which must have a buffer of at least
// MaxLineLen+1 bytes (bufio's default has 4096), refusing put bodies
// longer than maxJobSize bytes (DefaultMaxJobSize if maxJobSize <= 0).
func NewReader(br *bufio.Reader, maxJobSize int) *Reader {
	if maxJobSize <= 0 {
		maxJobSize = DefaultMaxJobSize
	}
	if int64(maxJobSize) > int64(^uint32(0)) {
		maxJobSize = int(^uint32(0))
	}
	return &Reader{br: br, maxJobSize: uint32(maxJobSize)}
}

// Buffered returns the number of bytes received and not yet read: a
// server flushes its replies only when it is zero (pipelining).
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadCommand reads the next command, and a put's body, into c.
//
// It returns nil for a command to execute; ErrBadFormat, ErrUnknownCommand,
// ErrJobTooBig or ErrExpectedCRLF for a protocol error to answer, after
// which the next command can be read; or the error of the underlying
// reader (io.EOF when the client hung up between commands,
// io.ErrUnexpectedEOF within one), after which the connection is over.
// Even with a protocol error, c.Op is set when beanstalkd counts the
// command in its cmd-* statistics.
func (r *Reader) ReadCommand(c *Command) error {
	line, err := r.readLine()
	if err != nil {
		c.reset()
		return err
	}
	if r.onLine != nil {
		r.onLine()
	}
	perr := ParseCommand(line, c)
	if c.Op != OpPut && !table.hasBody(c.Op) {
		return perr
	}
	if c.Size > r.maxJobSize {
		if _, err := r.br.Discard(int(c.Size) + 2); err != nil {
			return unexpected(err)
		}
		return ErrJobTooBig
	}
	if perr != nil {
		return perr
	}
	body, err := r.readBody(int(c.Size), c.Op == OpPut)
	if err != nil {
		return unexpected(err)
	}
	cr, err := r.br.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	lf, err := r.br.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	if cr != '\r' || lf != '\n' {
		return ErrExpectedCRLF
	}
	c.Body = body
	return nil
}

// bodyChunk is the most readBody allocates for a body before its bytes
// arrive.
const bodyChunk = 16 << 10

// readBody reads a body of size bytes. The slice it returns has exactly
// that capacity (the engine keeps it for the job's life, and a 64-byte
// body must not take an 80-byte allocation). A body larger than bodyChunk
// that has not arrived yet is not allocated whole up front: the buffer
// starts at bodyChunk and doubles as its bytes come, so a client that
// announces 64 KiB and sends little holds little, and the memory a
// connection holds is at most twice what it sent. If the body is cut
// short, the memory it held is reported to OnDropped.
func (r *Reader) readBody(size int, put bool) ([]byte, error) {
	if size <= bodyChunk || r.br.Buffered() >= size {
		var body []byte
		if put && r.putBuffer != nil && size <= bodyChunk {
			body = r.putBuffer(size)
		} else {
			body = make([]byte, size)
		}
		_, err := io.ReadFull(r.br, body)
		return body, err
	}
	body := make([]byte, 0, max(bodyChunk, r.br.Buffered()))
	for {
		n, err := io.ReadFull(r.br, body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err != nil {
			if r.onDropped != nil {
				r.onDropped(cap(body))
			}
			return nil, err
		}
		if len(body) == size {
			return body, nil
		}
		grown := make([]byte, len(body), min(size, 2*cap(body)))
		copy(grown, body)
		body = grown
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// lineStatus is the outcome of scanning a window of input.
type lineStatus uint8

const (
	lineNeedMore lineStatus = iota
	lineDone
	lineTooLong
)

// scanLine is beanstalkd's scan_line_end on a window of at most
// MaxLineLen bytes: the line ends at the first '\r' among all but the last
// byte, if '\n' follows it. A full window without an end is too long.
func scanLine(b []byte) (int, lineStatus) {
	if len(b) >= 2 {
		if i := bytes.IndexByte(b[:len(b)-1], '\r'); i >= 0 && b[i+1] == '\n' {
			return i + 2, lineDone
		}
	}
	if len(b) >= MaxLineLen {
		return 0, lineTooLong
	}
	return 0, lineNeedMore
}

// window returns the next scan of the input: the buffered bytes, at most
// MaxLineLen, reading more when fewer than need are buffered.
func (r *Reader) window(need int) ([]byte, error) {
	if r.br.Buffered() < need {
		if _, err := r.br.Peek(need); err != nil {
			if r.br.Buffered() == 0 && err == io.EOF {
				return nil, io.EOF
			}
			return nil, unexpected(err)
		}
	}
	n := min(r.br.Buffered(), MaxLineLen)
	return r.br.Peek(n)
}

// readLine returns the next command line without its "\r\n"; the slice is
// valid until the next read. A line too long is discarded as beanstalkd
// does — by windows of MaxLineLen bytes, looking for "\r\n" in each — and
// reported as ErrBadFormat.
func (r *Reader) readLine() ([]byte, error) {
	need := 1
	for {
		b, err := r.window(need)
		if err != nil {
			return nil, err
		}
		n, st := scanLine(b)
		switch st {
		case lineDone:
			line := b[:n-2]
			_, _ = r.br.Discard(n) // the bytes stay in the buffer until the next read
			return line, nil
		case lineTooLong:
			_, _ = r.br.Discard(MaxLineLen)
			return nil, r.skipLine()
		}
		need = len(b) + 1
	}
}

// skipLine discards input up to the end of an overlong line and returns
// ErrBadFormat, or the read error that came first.
func (r *Reader) skipLine() error {
	need := 1
	for {
		b, err := r.window(need)
		if err != nil {
			return unexpected(err)
		}
		n, st := scanLine(b)
		switch st {
		case lineDone:
			_, _ = r.br.Discard(n)
			return ErrBadFormat
		case lineTooLong:
			_, _ = r.br.Discard(MaxLineLen)
			need = 1
			continue
		}
		need = len(b) + 1
	}
}

// Ready reports whether the buffered input holds a whole command (its
// line, and its body and CRLF if it has one), so that ReadCommand returns
// without reading: an event loop runs a command only then. If not, need
// is how many bytes must be buffered for it, when the line is known, or
// 0 when the line is not complete yet; need is -1 when no window of
// buffered bytes decides it (a line too long, which ReadCommand skips by
// reading). A command line whose parse fails is whole without its body,
// as ReadCommand reads it, except a body announced too big, which
// ReadCommand discards.
func (r *Reader) Ready() (ok bool, need int) {
	b, _ := r.br.Peek(min(r.br.Buffered(), MaxLineLen))
	n, st := scanLine(b)
	switch st {
	case lineNeedMore:
		return false, 0
	case lineTooLong:
		return false, -1
	}
	c := &r.probe
	perr := ParseCommand(b[:n-2], c)
	if c.Op != OpPut && !table.hasBody(c.Op) || perr != nil && c.Size <= r.maxJobSize {
		return true, n
	}
	need = n + int(c.Size) + 2
	return r.br.Buffered() >= need, need
}
