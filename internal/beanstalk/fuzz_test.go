package beanstalk

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// format writes a parsed command back as its canonical line.
func format(c *Command) string {
	switch c.Op {
	case OpPut:
		return fmt.Sprintf("put %d %d %d %d", c.Pri, c.Delay, c.TTR, c.Size)
	case OpPeek, OpReserveJob, OpDelete, OpKickJob, OpTouch, OpStatsJob:
		return fmt.Sprintf("%s %d", c.Op, c.ID)
	case OpReserveWithTimeout:
		return fmt.Sprintf("%s %d", c.Op, c.Timeout)
	case OpRelease:
		return fmt.Sprintf("release %d %d %d", c.ID, c.Pri, c.Delay)
	case OpBury:
		return fmt.Sprintf("bury %d %d", c.ID, c.Pri)
	case OpKick:
		return fmt.Sprintf("kick %d", c.Bound)
	case OpStatsTube, OpUse, OpWatch, OpIgnore:
		return fmt.Sprintf("%s %s", c.Op, c.Tube)
	case OpPauseTube:
		return fmt.Sprintf("pause-tube %s %d", c.Tube, c.Delay)
	}
	return c.Op.String()
}

var fuzzSeeds = []string{
	"put 0 0 1 5", "put 4294967295 4294967295 4294967295 65535", "put 1 2 3 4 x",
	"peek 1", "peek-ready", "peek-delayed", "peek-buried", "reserve",
	"reserve-with-timeout 0", "reserve-with-timeout -1", "reserve-with-timeout 4294967297",
	"reserve-job 18446744073709551615", "delete 1", "release 1 2 3", "bury 1 2",
	"kick 10", "kick -1", "kick-job 1", "touch 1", "stats-job 1", "stats-tube default",
	"stats", "use foo", "watch a+b/c;d.e$f_g(h)", "ignore default", "list-tubes",
	"list-tube-used", "list-tubes-watched", "quit", "pause-tube foo 10", "pause-tubefoo 1",
	"use -x", "", "\x00", "stats\x00",
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var c Command
		err := ParseCommand(line, &c)
		switch err {
		case nil:
		case ErrBadFormat, ErrUnknownCommand:
			if err == ErrUnknownCommand && c.Op != OpNone {
				t.Fatalf("UNKNOWN_COMMAND with op %v", c.Op)
			}
			return
		default:
			t.Fatalf("ParseCommand(%q): unexpected error %v", line, err)
		}
		if c.Tube != "" && !ValidTubeName(c.Tube) {
			t.Fatalf("ParseCommand(%q): invalid tube %q accepted", line, c.Tube)
		}
		// The canonical form of an accepted command parses to the same
		// command (quit, reserve-with-timeout and kick accept trailing text,
		// so only the fields are compared).
		canon := format(&c)
		var c2 Command
		if err := ParseCommand([]byte(canon), &c2); err != nil {
			t.Fatalf("ParseCommand(%q) = %+v; canonical %q fails: %v", line, c, canon, err)
		}
		if format(&c2) != canon {
			t.Fatalf("round trip of %q: %q then %q", line, canon, format(&c2))
		}
	})
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s + "\r\n"))
	}
	f.Add([]byte("put 0 0 1 3\r\na\r\n\r\nput 0 0 1 0\r\n\r\nstats\r\n"))
	f.Add([]byte("put 0 0 1 99\r\nxx\r\nput 0 0 1 1 x\r\nb\r\n"))
	f.Add(append(bytes.Repeat([]byte("a"), 230), "\r\nstats\r\n"...))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bufio.NewReader(bytes.NewReader(in)), 64)
		var c Command
		for i := 0; ; i++ {
			if i > len(in)+1 {
				t.Fatalf("more commands than bytes in %q", in)
			}
			err := r.ReadCommand(&c)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil && ErrorReply(err) == "" {
				t.Fatalf("unexpected error %v", err)
			}
			if err == nil && c.Op == OpPut && len(c.Body) != int(c.Size) {
				t.Fatalf("body of %d bytes for size %d", len(c.Body), c.Size)
			}
		}
	})
}
