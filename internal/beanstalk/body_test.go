package beanstalk

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// A large body that arrives in pieces is read whole, into a slice of
// exactly its size.
func TestReaderLargeBodyInPieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)[:65535]
	in := iotest.HalfReader(strings.NewReader("put 1 0 60 65535\r\n" + string(body) + "\r\nput 1 0 60 3\r\nabc\r\n"))
	r := NewReader(bufio.NewReaderSize(in, 8<<10), 0)
	var c Command
	if err := r.ReadCommand(&c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Body, body) || cap(c.Body) != len(body) {
		t.Fatalf("body of %d bytes (cap %d) differs from the %d sent", len(c.Body), cap(c.Body), len(body))
	}
	if err := r.ReadCommand(&c); err != nil || string(c.Body) != "abc" {
		t.Fatalf("next put: %v, body %q", err, c.Body)
	}
}

// A client that announces 65,535 bytes and sends part of them before
// hanging up has cost the reader a buffer of at most twice what it sent
// (16 KiB at least), not the whole body; the buffer is reported dropped.
func TestReaderDoesNotAllocateABodyBeforeItArrives(t *testing.T) {
	for _, tt := range []struct{ sent, held int }{
		{0, bodyChunk}, {1000, bodyChunk}, {bodyChunk, 2 * bodyChunk}, {20000, 2 * bodyChunk}, {40000, 65535},
	} {
		in := strings.NewReader("put 1 0 60 65535\r\n" + strings.Repeat("x", tt.sent))
		r := NewReader(bufio.NewReaderSize(in, 8<<10), 0)
		dropped := 0
		r.OnDropped(func(n int) { dropped += n })
		var c Command
		if err := r.ReadCommand(&c); err != io.ErrUnexpectedEOF {
			t.Fatalf("sent %d: ReadCommand = %v, want %v", tt.sent, err, io.ErrUnexpectedEOF)
		}
		if dropped != tt.held {
			t.Fatalf("sent %d of 65,535 bytes: the reader held %d bytes, want %d", tt.sent, dropped, tt.held)
		}
	}
}

// A put's body is read into the buffer PutBuffers provides; other
// commands' bodies and bodies over 16 KiB are not.
func TestReaderPutBuffers(t *testing.T) {
	in := strings.NewReader("put 1 0 60 5\r\nhello\r\nfail 7 4\r\noops\r\nput 1 0 60 20000\r\n" + strings.Repeat("y", 20000) + "\r\n")
	r := NewReader(bufio.NewReaderSize(in, 8<<10), 0)
	var given [][]byte
	r.PutBuffers(func(size int) []byte {
		b := make([]byte, size)
		given = append(given, b)
		return b
	})
	var c Command
	if err := r.ReadCommand(&c); err != nil || string(c.Body) != "hello" {
		t.Fatalf("put: %v, body %q", err, c.Body)
	}
	if len(given) != 1 || &given[0][0] != &c.Body[0] {
		t.Fatalf("the put's body is not the buffer given (%d given)", len(given))
	}
	if err := r.ReadCommand(&c); err != nil || c.Op != OpFail || string(c.Body) != "oops" {
		t.Fatalf("fail: %v, op %v body %q", err, c.Op, c.Body)
	}
	if err := r.ReadCommand(&c); err != nil || len(c.Body) != 20000 {
		t.Fatalf("large put: %v, %d bytes", err, len(c.Body))
	}
	if len(given) != 1 {
		t.Fatalf("%d buffers asked for, want 1 (only the small put's)", len(given))
	}
}
