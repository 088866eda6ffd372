package beanstalk

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("a", 200)
	tests := []struct {
		line string
		want Command
		err  error
	}{
		{"put 1 2 3 4", Command{Op: OpPut, Pri: 1, Delay: 2, TTR: 3, Size: 4}, nil},
		{"put  1  2  3  4", Command{Op: OpPut, Pri: 1, Delay: 2, TTR: 3, Size: 4}, nil},
		{"put 4294967295 0 0 0", Command{Op: OpPut, Pri: 4294967295}, nil},
		{"put 4294967296 0 0 0", Command{}, ErrBadFormat},
		{"put -1 0 0 0", Command{}, ErrBadFormat},
		{"put +1 0 0 0", Command{}, ErrBadFormat},
		{"put 1 2 3", Command{}, ErrBadFormat},
		{"put 1 2 3 4 ", Command{Op: OpPut, Pri: 1, Delay: 2, TTR: 3, Size: 4}, ErrBadFormat},
		{"put 1 2 3 4x", Command{Op: OpPut, Pri: 1, Delay: 2, TTR: 3, Size: 4}, ErrBadFormat},
		{"put\t1 2 3 4", Command{}, ErrUnknownCommand},
		{"put", Command{}, ErrUnknownCommand},
		{"", Command{}, ErrUnknownCommand},
		{"PUT 1 2 3 4", Command{}, ErrUnknownCommand},
		{"peek 18446744073709551615", Command{Op: OpPeek, ID: 18446744073709551615}, nil},
		{"peek 18446744073709551616", Command{}, ErrBadFormat},
		{"peek 1 ", Command{}, ErrBadFormat},
		{"peek", Command{}, ErrUnknownCommand},
		{"peek-ready", Command{Op: OpPeekReady}, nil},
		{"peek-ready ", Command{}, ErrBadFormat},
		{"peek-delayed", Command{Op: OpPeekDelayed}, nil},
		{"peek-buried", Command{Op: OpPeekBuried}, nil},
		{"reserve", Command{Op: OpReserve}, nil},
		{"reserve ", Command{}, ErrBadFormat},
		{"reservex", Command{}, ErrBadFormat},
		{"reserve-with-timeout 5", Command{Op: OpReserveWithTimeout, Timeout: 5}, nil},
		{"reserve-with-timeout abc", Command{Op: OpReserveWithTimeout}, nil},
		{"reserve-with-timeout 5abc", Command{Op: OpReserveWithTimeout, Timeout: 5}, nil},
		{"reserve-with-timeout -1", Command{Op: OpReserveWithTimeout, Timeout: -1}, nil},
		{"reserve-with-timeout \t+7", Command{Op: OpReserveWithTimeout, Timeout: 7}, nil},
		{"reserve-with-timeout 4294967297", Command{Op: OpReserveWithTimeout, Timeout: 1}, nil},
		{"reserve-with-timeout 9223372036854775808", Command{}, ErrBadFormat},
		{"reserve-with-timeout -9223372036854775808", Command{Op: OpReserveWithTimeout, Timeout: 0}, nil},
		{"reserve-with-timeout", Command{}, ErrBadFormat},
		{"reserve-job 3", Command{Op: OpReserveJob, ID: 3}, nil},
		{"reserve-job", Command{}, ErrBadFormat},
		{"delete 9", Command{Op: OpDelete, ID: 9}, nil},
		{"delete", Command{}, ErrUnknownCommand},
		{"delete x", Command{}, ErrBadFormat},
		{"release 1 2 3", Command{Op: OpRelease, ID: 1, Pri: 2, Delay: 3}, nil},
		{"release 1 2", Command{}, ErrBadFormat},
		{"release 1 2 3 4", Command{}, ErrBadFormat},
		{"bury 1 2", Command{Op: OpBury, ID: 1, Pri: 2}, nil},
		{"bury 1", Command{}, ErrBadFormat},
		{"kick 10", Command{Op: OpKick, Bound: 10}, nil},
		{"kick 5x", Command{Op: OpKick, Bound: 5}, nil},
		{"kick -1", Command{Op: OpKick, Bound: 4294967295}, nil},
		{"kick 4294967296", Command{Op: OpKick, Bound: 0}, nil},
		{"kick 18446744073709551616", Command{}, ErrBadFormat},
		{"kick x", Command{}, ErrBadFormat},
		{"kick", Command{}, ErrUnknownCommand},
		{"kick-job 4", Command{Op: OpKickJob, ID: 4}, nil},
		{"touch 4", Command{Op: OpTouch, ID: 4}, nil},
		{"stats-job 4", Command{Op: OpStatsJob, ID: 4}, nil},
		{"stats-job", Command{}, ErrBadFormat},
		{"stats-tube default", Command{Op: OpStatsTube, Tube: "default"}, nil},
		{"stats-tube", Command{}, ErrBadFormat},
		{"stats", Command{Op: OpStats}, nil},
		{"stats ", Command{}, ErrBadFormat},
		{"use foo", Command{Op: OpUse, Tube: "foo"}, nil},
		{"use " + long, Command{Op: OpUse, Tube: long}, nil},
		{"use " + long + "a", Command{}, ErrBadFormat},
		{"use -foo", Command{}, ErrBadFormat},
		{"use foo-", Command{Op: OpUse, Tube: "foo-"}, nil},
		{"use a+b/c;d.e$f_g(h)", Command{Op: OpUse, Tube: "a+b/c;d.e$f_g(h)"}, nil},
		{"use foo bar", Command{}, ErrBadFormat},
		{"use  foo", Command{}, ErrBadFormat},
		{"use fo*o", Command{}, ErrBadFormat},
		{"use ", Command{}, ErrBadFormat},
		{"watch foo", Command{Op: OpWatch, Tube: "foo"}, nil},
		{"ignore foo", Command{Op: OpIgnore, Tube: "foo"}, nil},
		{"list-tubes", Command{Op: OpListTubes}, nil},
		{"list-tubes ", Command{}, ErrBadFormat},
		{"list-tube-used", Command{Op: OpListTubeUsed}, nil},
		{"list-tubes-watched", Command{Op: OpListTubesWatched}, nil},
		{"quit", Command{Op: OpQuit}, nil},
		{"quitnow", Command{Op: OpQuit}, nil},
		{"pause-tube foo 10", Command{Op: OpPauseTube, Tube: "foo", Delay: 10}, nil},
		{"pause-tube   foo   10", Command{Op: OpPauseTube, Tube: "foo", Delay: 10}, nil},
		{"pause-tubefoo 10", Command{Op: OpPauseTube, Tube: "foo", Delay: 10}, nil},
		{"pause-tube foo10", Command{}, ErrBadFormat},
		{"pause-tube foo", Command{}, ErrBadFormat},
		{"pause-tube -foo 1", Command{Op: OpPauseTube, Delay: 1}, ErrBadFormat},
		{"pause-tube foo 4294967296", Command{}, ErrBadFormat},
		{"stats\x00", Command{}, ErrBadFormat},
		{"\x00", Command{}, ErrBadFormat},
	}
	for _, tt := range tests {
		var c Command
		err := ParseCommand([]byte(tt.line), &c)
		if err != tt.err {
			t.Errorf("ParseCommand(%q) error = %v, want %v", tt.line, err, tt.err)
		}
		if c.Op != tt.want.Op || c.ID != tt.want.ID || c.Pri != tt.want.Pri || c.Delay != tt.want.Delay ||
			c.TTR != tt.want.TTR || c.Size != tt.want.Size || c.Timeout != tt.want.Timeout ||
			c.Bound != tt.want.Bound || c.Tube != tt.want.Tube {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.line, c, tt.want)
		}
	}
}

func TestOpNames(t *testing.T) {
	if OpPut.String() != "put" || OpPauseTube.String() != "pause-tube" || OpNone.String() != "" {
		t.Fatalf("names: %q %q %q", OpPut, OpPauseTube, OpNone)
	}
	if got := len(Commands()); got != int(numOps)-1 {
		t.Fatalf("Commands() has %d entries", got)
	}
}

func TestTableRefusesCapturedPrefix(t *testing.T) {
	for _, s := range []Spec{
		{Name: "reserve-all", Prefix: "reserve-all"}, // captured by "reserve"
		{Name: "stats-x", Prefix: "stats-x "},        // captured by "stats"
		{Name: "put", Prefix: "putx "},               // name taken
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("add(%+v) did not panic", s)
				}
			}()
			var d dispatch
			d.ops = map[*Spec]Op{}
			d.add(Spec{Name: "reserve", Prefix: "reserve"})
			d.add(Spec{Name: "stats", Prefix: "stats"})
			d.add(Spec{Name: "put", Prefix: "put "})
			d.add(s)
		}()
	}
}

func TestTableExtension(t *testing.T) {
	d := dispatch{ops: map[*Spec]Op{}}
	d.add(Spec{Name: "put", Prefix: "put ", Parse: parsePut})
	op := d.add(Spec{Name: "fail", Prefix: "fail ", Parse: parseFail})
	got, spec, args := d.lookup([]byte("fail 12 it broke"))
	if got != op || spec.Name != "fail" || string(args) != "12 it broke" {
		t.Fatalf("lookup = %v %v %q", got, spec, args)
	}
	if got, _, _ := d.lookup([]byte("failx")); got != OpNone {
		t.Fatalf("lookup(failx) = %v", got)
	}
}
