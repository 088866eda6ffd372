package config

import (
	"flag"
	"io"
	"testing"
	"time"
)

func TestDurationVar(t *testing.T) {
	cases := []struct {
		args []string
		want time.Duration
		err  bool
	}{
		{nil, 10 * time.Second, false},
		{[]string{"-t", "30"}, 30 * time.Second, false},
		{[]string{"-t", "1m30s"}, 90 * time.Second, false},
		{[]string{"-t", "2d"}, 48 * time.Hour, false},
		{[]string{"-t", "-1s"}, 0, true},
		{[]string{"-t", "soon"}, 0, true},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var d time.Duration
		DurationVar(fs, &d, "t", 10*time.Second, "")
		err := fs.Parse(tc.args)
		if (err != nil) != tc.err || (!tc.err && d != tc.want) {
			t.Errorf("%v: %v, %v; want %v (error %v)", tc.args, d, err, tc.want, tc.err)
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var d time.Duration
	DurationVar(fs, &d, "t", 36*time.Hour, "")
	if got := fs.Lookup("t").DefValue; got != "1d12h" {
		t.Errorf("default shown as %q, want 1d12h", got)
	}
}
