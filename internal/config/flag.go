package config

import (
	"flag"
	"fmt"
	"time"
)

// DurationVar defines a duration flag in this dialect ("30", "1m30s",
// "3d") on fs, like flag.FlagSet.DurationVar: *p starts as value and is
// set when the flag is given. Negative durations are refused.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

type durationValue time.Duration

func (d *durationValue) String() string { return FormatDuration(time.Duration(*d)) }

func (d *durationValue) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = durationValue(v)
	return nil
}
