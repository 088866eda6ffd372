package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// bodyReplies names the replies followed by a data block and the index in
// Args of its byte count (-1: the last word). Extension commands may add
// theirs in init.
var bodyReplies = map[string]int{
	"RESERVED": 1, // RESERVED <id> <bytes>
	"FOUND":    1, // FOUND <id> <bytes>
	"OK":       0, // OK <bytes>
}

// maxReplyBody bounds the data block of a reply: beanstalkd's largest job.
const maxReplyBody = 1 << 30

// errProtocol marks a reply that does not follow the protocol; the Conn is
// closed because its position in the stream is lost.
var errProtocol = errors.New("client: protocol violation")

// readReply reads one reply line and, if the reply carries one, its data
// block.
func (c *Conn) readReply() (Reply, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Reply{}, fmt.Errorf("read reply from %s: %w", c.addr, err)
	}
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return Reply{}, fmt.Errorf("%w: reply line %q does not end in CRLF", errProtocol, line)
	}
	r := Reply{Line: string(line[:len(line)-2])}
	words := strings.Fields(r.Line)
	if len(words) == 0 {
		return Reply{}, fmt.Errorf("%w: empty reply line", errProtocol)
	}
	r.Code, r.Args = words[0], words[1:]
	at, ok := bodyReplies[r.Code]
	if !ok {
		return r, nil
	}
	if at < 0 {
		at = len(r.Args) - 1
	}
	if at < 0 || at >= len(r.Args) {
		return Reply{}, fmt.Errorf("%w: %q lacks its byte count", errProtocol, r.Line)
	}
	n, err := strconv.Atoi(r.Args[at])
	if err != nil || n < 0 || n > maxReplyBody {
		return Reply{}, fmt.Errorf("%w: %q has a bad byte count", errProtocol, r.Line)
	}
	buf, err := readBlock(c.r, n+2)
	if err != nil {
		return Reply{}, fmt.Errorf("read reply body from %s: %w", c.addr, err)
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return Reply{}, fmt.Errorf("%w: data block of %q does not end in CRLF", errProtocol, r.Line)
	}
	r.Body = buf[:n:n]
	return r, nil
}

// argUint parses Args[i] of a reply as an unsigned number.
func (r Reply) argUint(i int) (uint64, bool) {
	if i >= len(r.Args) {
		return 0, false
	}
	n, err := strconv.ParseUint(r.Args[i], 10, 64)
	return n, err == nil
}

// readBlock reads exactly n bytes. Memory grows with the bytes that
// arrive, not with the count the server claimed.
func readBlock(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 20
	if n <= chunk {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	var b bytes.Buffer
	b.Grow(chunk)
	got, err := b.ReadFrom(io.LimitReader(r, int64(n)))
	if err == nil && got < int64(n) {
		err = io.ErrUnexpectedEOF
	}
	return b.Bytes(), err
}
