package beanstalk

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// errNoMore is what onceReader returns after its bytes: a socket with
// nothing more to read now.
var errNoMore = errors.New("no more input now")

// onceReader gives its bytes in one read, then errNoMore.
type onceReader struct{ b []byte }

func (o *onceReader) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, errNoMore
	}
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}

// buffered returns a Reader with input buffered (as an event loop has it
// after one read), refusing bodies over max.
func buffered(t *testing.T, input string, max int) *Reader {
	t.Helper()
	br := bufio.NewReaderSize(&onceReader{b: []byte(input)}, 8<<10)
	if len(input) > 0 {
		if _, err := br.Peek(len(input)); err != nil {
			t.Fatal(err)
		}
	}
	return NewReader(br, max)
}

func TestReadyTellsAWholeCommand(t *testing.T) {
	long := strings.Repeat("x", MaxLineLen)
	for _, tc := range []struct {
		name, input string
		ok          bool
		need        int
	}{
		{"nothing", "", false, 0},
		{"part of a line", "use fo", false, 0},
		{"a line without LF", "use foo\r", false, 0},
		{"a line", "use foo\r\n", true, 9},
		{"the first of two", "peek 1\r\nuse foo\r\n", true, 8},
		{"a put without its body", "put 0 0 60 5\r\n", false, 21},
		{"a put with part of its body", "put 0 0 60 5\r\nhel", false, 21},
		{"a put without its CRLF", "put 0 0 60 5\r\nhello\r", false, 21},
		{"a whole put", "put 0 0 60 5\r\nhello\r\n", true, 21},
		{"a put with bad arguments is its line", "put 0 0 60 x\r\n", true, 14},
		{"a put too big is its line and body", "put 0 0 60 70000\r\n", false, 18 + 70000 + 2},
		{"another command with a body", "fail 7 3\r\nabc\r\n", true, 15},
		{"an unknown command", "frob\r\n", true, 6},
		{"a line too long", long, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := buffered(t, tc.input, 65535)
			ok, need := r.Ready()
			if ok != tc.ok || need != tc.need {
				t.Fatalf("Ready() = %v, %d; want %v, %d", ok, need, tc.ok, tc.need)
			}
			if !ok {
				return
			}
			// What Ready calls whole, ReadCommand reads without reading more.
			var c Command
			if err := r.ReadCommand(&c); errors.Is(err, errNoMore) {
				t.Fatalf("ReadCommand needed more input than Ready said")
			}
			if got := len(tc.input) - r.Buffered(); got != tc.need {
				t.Fatalf("ReadCommand consumed %d bytes, Ready said %d", got, tc.need)
			}
		})
	}
}

// FuzzReady checks Ready against ReadCommand on any input: a command it
// calls whole is read without more input, to the byte it said; one it
// does not has more bytes to come than are buffered.
func FuzzReady(f *testing.F) {
	for _, s := range []string{"put 0 0 60 5\r\nhello\r\n", "use a\r\npeek 1\r\n", "put 1 2 3 999999\r\nab", "fail 1 2\r\nab\r\n", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		if len(input) > 8<<10 {
			return
		}
		r := buffered(t, input, 1000)
		ok, need := r.Ready()
		if !ok {
			if need > 0 && need <= len(input) {
				t.Fatalf("Ready() = false, %d with %d bytes buffered", need, len(input))
			}
			return
		}
		var c Command
		if err := r.ReadCommand(&c); errors.Is(err, errNoMore) {
			t.Fatalf("ReadCommand needed more input than Ready said")
		}
		if got := len(input) - r.Buffered(); got != need {
			t.Fatalf("ReadCommand consumed %d bytes, Ready said %d", got, need)
		}
	})
}
