package stats

import (
	"strconv"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
)

// kind says how a Value is printed on the wire and typed in JSON.
type kind uint8

const (
	kindUint    kind = iota // a whole number ≥ 0
	kindInt                 // a whole number
	kindBool                // true or false
	kindText                // text printed as is (tube names, hostnames)
	kindQuoted              // text in double quotes on the wire
	kindSeconds             // a duration as whole seconds, truncated
	kindMicros              // a duration as seconds with six decimals
	kindTime                // RFC 3339 in UTC, quoted; "" (JSON null) for the zero time
	kindRaw                 // text from elsewhere; JSON: a number or boolean when it reads as one
)

// Value is one stats value with its type.
type Value struct {
	kind kind
	n    int64 // kindInt, kindBool (0/1)
	u    uint64
	s    string
	d    time.Duration
	t    time.Time
}

// Uint is a whole number ≥ 0.
func Uint[T ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int](v T) Value {
	return Value{kind: kindUint, u: uint64(v)}
}

// Int is a whole number that may be negative.
func Int[T ~int | ~int64](v T) Value { return Value{kind: kindInt, n: int64(v)} }

// Bool is true or false.
func Bool(v bool) Value {
	if v {
		return Value{kind: kindBool, n: 1}
	}
	return Value{kind: kindBool}
}

// Text is text printed as is on the wire (beanstalkd does not quote tube
// names or hostnames), a JSON string.
func Text(s string) Value { return Value{kind: kindText, s: s} }

// Quoted is text in double quotes on the wire, a JSON string.
func Quoted(s string) Value { return Value{kind: kindQuoted, s: s} }

// Seconds is a duration as whole seconds, truncated as beanstalkd's
// integer division does.
func Seconds(d time.Duration) Value { return Value{kind: kindSeconds, d: d} }

// Micros is a duration as seconds with six decimals (rusage-utime).
func Micros(d time.Duration) Value { return Value{kind: kindMicros, d: d} }

// Time is a moment as RFC 3339 in UTC, quoted on the wire; the zero time
// is "" on the wire and null in JSON.
func Time(t time.Time) Value { return Value{kind: kindTime, t: t} }

// Raw is text made elsewhere (the durable log's keys): printed as is, and
// in JSON a number or boolean when it reads as one, else a string.
func Raw(s string) Value { return Value{kind: kindRaw, s: s} }

// write adds key: v to d.
func (v Value) write(d *beanstalk.Dict, key string) {
	switch v.kind {
	case kindUint:
		d.Uint(key, v.u)
	case kindInt:
		d.Int(key, v.n)
	case kindBool:
		d.Bool(key, v.n != 0)
	case kindQuoted:
		d.Quoted(key, v.s)
	case kindSeconds:
		d.Seconds(key, v.d)
	case kindMicros:
		d.Micros(key, v.d)
	case kindTime:
		d.Quoted(key, stamp(v.t))
	default:
		d.Str(key, v.s)
	}
}

// JSON returns v as a value for encoding/json: numbers and booleans typed,
// times as RFC 3339 text or nil.
func (v Value) JSON() any {
	switch v.kind {
	case kindUint:
		return v.u
	case kindInt:
		return v.n
	case kindBool:
		return v.n != 0
	case kindSeconds:
		return int64(v.d / time.Second)
	case kindMicros:
		return float64(v.d/time.Microsecond) / 1e6
	case kindTime:
		if v.t.IsZero() {
			return nil
		}
		return stamp(v.t)
	case kindRaw:
		return scalar(v.s)
	}
	return v.s
}

// stamp formats t as RFC 3339 in UTC, "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// scalar gives s as a JSON number or boolean when it is one, else s.
func scalar(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && strings.Trim(s, "0123456789.") == "" {
		return f
	}
	if s == "true" || s == "false" {
		return s == "true"
	}
	return s
}
