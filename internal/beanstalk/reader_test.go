package beanstalk

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// events reads every command of input and describes each outcome.
func events(in io.Reader, max int) []string {
	r := NewReader(bufio.NewReader(in), max)
	var out []string
	var c Command
	for {
		err := r.ReadCommand(&c)
		switch {
		case err == nil && c.Op == OpPut:
			out = append(out, fmt.Sprintf("put %q", c.Body))
		case err == nil:
			out = append(out, c.Op.String())
		case ErrorReply(err) != "":
			out = append(out, strings.TrimSpace(ErrorReply(err)))
		default:
			return append(out, err.Error())
		}
		if len(out) > 100 {
			return out
		}
	}
}

func TestReaderFraming(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, in string
		want     []string
	}{
		{"pipelined", "use a\r\nlist-tube-used\r\nstats\r\n", []string{"use", "list-tube-used", "stats", "EOF"}},
		{"body with crlf", "put 0 0 1 4\r\na\r\nb\r\nquit\r\n", []string{`put "a\r\nb"`, "quit", "EOF"}},
		{"zero-length body", "put 0 0 1 0\r\n\r\n", []string{`put ""`, "EOF"}},
		{"bad trailer", "put 0 0 1 1\r\nab\r\nlist-tubes\r\n", []string{"EXPECTED_CRLF", "UNKNOWN_COMMAND", "EOF"}},
		{"job too big", "put 0 0 1 11\r\n" + a(11) + "\r\nlist-tubes\r\n", []string{"JOB_TOO_BIG", "list-tubes", "EOF"}},
		{"job too big with garbage", "put 0 0 1 11 x\r\n" + a(11) + "\r\nstats\r\n", []string{"JOB_TOO_BIG", "stats", "EOF"}},
		{"trailing garbage leaves body", "put 0 0 1 1 x\r\nb\r\n", []string{"BAD_FORMAT", "UNKNOWN_COMMAND", "EOF"}},
		{"line of 224 bytes", a(222) + "\r\nstats\r\n", []string{"UNKNOWN_COMMAND", "stats", "EOF"}},
		{"line of 225 bytes swallows the next", a(223) + "\r\nstats\r\nlist-tubes\r\n", []string{"BAD_FORMAT", "list-tubes", "EOF"}},
		{"long line", a(300) + "\r\nstats\r\n", []string{"BAD_FORMAT", "stats", "EOF"}},
		{"very long line", a(5000) + "\r\nstats\r\n", []string{"BAD_FORMAT", "stats", "EOF"}},
		{"crlf across windows is missed", a(447) + "\r\nx\r\nstats\r\n", []string{"BAD_FORMAT", "stats", "EOF"}},
		{"stray cr waits", "x\ry\r\n", []string{"unexpected EOF"}},
		{"nul", "st\x00ats\r\nstats\r\n", []string{"BAD_FORMAT", "stats", "EOF"}},
		{"empty line", "\r\n", []string{"UNKNOWN_COMMAND", "EOF"}},
		{"cut body", "put 0 0 1 5\r\nab", []string{"unexpected EOF"}},
		{"cut line", "sta", []string{"unexpected EOF"}},
		{"lf only", "stats\nstats\r\n", []string{"BAD_FORMAT", "EOF"}},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			var in io.Reader = strings.NewReader(tt.in)
			if chunked {
				in = iotest.OneByteReader(in)
			}
			got := events(in, 10)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s (one byte reads %v): got %q, want %q", tt.name, chunked, got, tt.want)
			}
		}
	}
}

func TestReaderCountsBadPut(t *testing.T) {
	r := NewReader(bufio.NewReader(strings.NewReader("put 0 0 1 1 x\r\n")), 0)
	var c Command
	if err := r.ReadCommand(&c); err != ErrBadFormat || c.Op != OpPut {
		t.Fatalf("got %v, op %v; want BAD_FORMAT with op put", err, c.Op)
	}
}
