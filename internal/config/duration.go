package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration (see the package comment): a plain
// number of seconds ("30", "0.5"), or numbers with units as in "1m30s",
// "3d", "1d12h", "500ms". A leading - gives a negative duration, for the
// caller to refuse with its own message.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eEnNiIxX") {
		if math.IsNaN(secs) || math.Abs(secs*float64(time.Second)) >= math.MaxInt64 {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	var total float64
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit, ok := durationUnits[rest[i:j]]
		if !ok {
			return 0, fmt.Errorf("%q has an unknown unit %q", s, rest[i:j])
		}
		total += num * float64(unit)
		rest = rest[j:]
	}
	if total >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too long", s)
	}
	d := time.Duration(total)
	if neg {
		d = -d
	}
	return d, nil
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// FormatDuration writes d the way ParseDuration reads it, with days for
// whole days ("3d", "1d12h", "90s" as "1m30s").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	day := 24 * time.Hour
	if d < day || d%time.Second != 0 {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = s[:len(s)-2]
		}
		if strings.HasSuffix(s, "h0m") {
			s = s[:len(s)-2]
		}
		return s
	}
	days := d / day
	rest := d % day
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, FormatDuration(rest))
}
