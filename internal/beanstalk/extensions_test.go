package beanstalk

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestExtensionCommands(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
		want Command // fields compared: Op, ID, Size, Body, Tube, Args, Bound, Timeout
		next string  // the line the reader must see next
	}{
		{"fail", "fail 7 11\r\nboom\r\nagain\r\nstats\r\n", nil,
			Command{Op: OpFail, ID: 7, Size: 11, Body: []byte("boom\r\nagain")}, "stats"},
		{"fail empty text", "fail 7 0\r\n\r\nstats\r\n", nil, Command{Op: OpFail, ID: 7, Body: []byte{}}, "stats"},
		{"fail too big", "fail 7 20\r\n01234567890123456789\r\nstats\r\n", ErrJobTooBig, Command{Op: OpFail, ID: 7, Size: 20}, "stats"},
		{"fail no crlf", "fail 7 2\r\nabc\r\nstats\r\n", ErrExpectedCRLF, Command{Op: OpFail, ID: 7, Size: 2}, ""},
		{"give-up", "give-up 7 3\r\nbad\r\nstats\r\n", nil, Command{Op: OpGiveUp, ID: 7, Size: 3, Body: []byte("bad")}, "stats"},
		{"give-up missing size", "give-up 7\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"fail missing size", "fail 7\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"fail negative", "fail -7 2\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"fail double space", "fail 7  2\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"fail trailing", "fail 7 2 x\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"list-jobs", "list-jobs emails buried 0 100\r\nstats\r\n", nil,
			Command{Op: OpListJobs, Tube: "emails", Args: []byte("buried"), Bound: 100}, "stats"},
		{"list-jobs after", "list-jobs a all 18446744073709551615 1000\r\nstats\r\n", nil,
			Command{Op: OpListJobs, Tube: "a", Args: []byte("all"), ID: 18446744073709551615, Bound: 1000}, "stats"},
		{"list-jobs limit 0", "list-jobs a all 0 0\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"list-jobs limit too big", "list-jobs a all 0 1001\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"list-jobs bad state", "list-jobs a dead 0 10\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"list-jobs bad tube", "list-jobs -a all 0 10\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"kick-tube", "kick-tube emails 100 4\r\nSMTP\r\nstats\r\n", nil,
			Command{Op: OpKickTube, Tube: "emails", Bound: 100, Size: 4, Body: []byte("SMTP")}, "stats"},
		{"kick-tube all", "kick-tube emails 5 0\r\n\r\nstats\r\n", nil,
			Command{Op: OpKickTube, Tube: "emails", Bound: 5, Body: []byte{}}, "stats"},
		{"kick-tube no bound", "kick-tube emails 4\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"flush-tube", "flush-tube emails all\r\nstats\r\n", nil, Command{Op: OpFlushTube, Tube: "emails", Args: []byte("all")}, "stats"},
		{"flush-tube bad state", "flush-tube emails every\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"flush-tube no state", "flush-tube emails\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"fail as a prefix of nothing else", "failover 1 2\r\nstats\r\n", ErrUnknownCommand, Command{}, "stats"},
		{"claim", "claim 0\r\nstats\r\n", nil, Command{Op: OpClaim}, "stats"},
		{"claim longest", "claim 2147483647\r\nstats\r\n", nil, Command{Op: OpClaim, Timeout: 1<<31 - 1}, "stats"},
		{"claim too long", "claim 2147483648\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"claim negative", "claim -1\r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"claim trailing", "claim 1 \r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"claim no number", "claim \r\nstats\r\n", ErrBadFormat, Command{}, "stats"},
		{"claim alone", "claim\r\nstats\r\n", ErrUnknownCommand, Command{}, "stats"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bufio.NewReader(strings.NewReader(tc.in)), 16)
			var c Command
			err := r.ReadCommand(&c)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if c.Op != tc.want.Op || c.ID != tc.want.ID || c.Size != tc.want.Size || c.Tube != tc.want.Tube ||
				c.Bound != tc.want.Bound || c.Timeout != tc.want.Timeout || string(c.Args) != string(tc.want.Args) || string(c.Body) != string(tc.want.Body) ||
				(tc.want.Body != nil) != (c.Body != nil) {
				t.Fatalf("command = %+v\nwant %+v", c, tc.want)
			}
			if tc.next == "" {
				return
			}
			var n Command
			if err := r.ReadCommand(&n); err != nil || n.Op.String() != tc.next {
				t.Fatalf("next command %q, %v; want %q", n.Op, err, tc.next)
			}
			if err := r.ReadCommand(&n); err != io.EOF {
				t.Fatalf("after the next command: %v, want EOF", err)
			}
		})
	}
}

func TestExtensionNames(t *testing.T) {
	names := strings.Join(Commands(), " ")
	if !strings.HasSuffix(names, "pause-tube fail give-up list-jobs kick-tube flush-tube") && !strings.Contains(names, "fail give-up list-jobs kick-tube flush-tube") {
		t.Fatalf("commands %s: extensions missing or before beanstalkd's", names)
	}
	for _, op := range []Op{OpFail, OpGiveUp, OpListJobs, OpKickTube, OpFlushTube, OpClaim} {
		if op <= OpPauseTube {
			t.Errorf("extension %s has Op %d, among beanstalkd's", op, op)
		}
	}
}

// FuzzExtensionCommands feeds arbitrary input to the Reader after an
// extension prefix: it must never panic, and a command it accepts must
// hold what its line says.
func FuzzExtensionCommands(f *testing.F) {
	for _, s := range []string{
		"fail 1 3\r\nabc\r\n", "give-up 1 3\r\nabc\r\n", "fail 18446744073709551615 0\r\n\r\n", "fail 1 99999999999\r\n",
		"list-jobs a all 0 1000\r\n", "list-jobs a ready 5 1\r\n", "kick-tube a 1 1\r\nx\r\n",
		"flush-tube a buried\r\n", "fail 1  3\r\n", "list-jobs a all 0 -1\r\n", "claim 5\r\n", "claim 99999999999\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bufio.NewReader(strings.NewReader(string(in))), 64)
		for i := 0; i < 8; i++ {
			var c Command
			err := r.ReadCommand(&c)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				continue
			}
			switch c.Op {
			case OpFail, OpKickTube:
				if uint32(len(c.Body)) != c.Size {
					t.Fatalf("%s body %d bytes, size %d", c.Op, len(c.Body), c.Size)
				}
			case OpListJobs:
				if !ValidTubeName(c.Tube) || !ValidState(c.Args) || c.Bound == 0 || c.Bound > MaxListLimit {
					t.Fatalf("list-jobs accepted %+v", c)
				}
			case OpClaim:
				if c.Timeout < 0 {
					t.Fatalf("claim accepted %+v", c)
				}
			case OpFlushTube:
				if !ValidTubeName(c.Tube) || !ValidState(c.Args) {
					t.Fatalf("flush-tube accepted %+v", c)
				}
			}
		}
	})
}
