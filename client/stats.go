package client

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrStatsKey reports a stats key that is missing or whose value does not
// have the type asked for.
var ErrStatsKey = errors.New("client: stats key")

// errBadYAML reports a stats or list reply that is not the simple YAML the
// protocol specifies.
var errBadYAML = errors.New("client: malformed YAML reply")

// Stats is a stats, stats-tube or stats-job reply: every key the server
// printed, extension keys included, with its value as text (surrounding
// double quotes removed). The typed accessors parse a value on demand.
type Stats map[string]string

// Text returns the value of key, or "" if it is missing.
func (s Stats) Text(key string) string { return s[key] }

// Int returns the value of key as a signed number.
func (s Stats) Int(key string) (int64, error) {
	v, err := s.value(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %q is not an integer", ErrStatsKey, key, v)
	}
	return n, nil
}

// Uint returns the value of key as an unsigned number (counters, ids).
func (s Stats) Uint(key string) (uint64, error) {
	v, err := s.value(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %q is not an unsigned integer", ErrStatsKey, key, v)
	}
	return n, nil
}

// Float returns the value of key as a number (rusage-utime and the like).
func (s Stats) Float(key string) (float64, error) {
	v, err := s.value(key)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %q is not a number", ErrStatsKey, key, v)
	}
	return f, nil
}

// Duration returns the value of key, a count of seconds (age, ttr,
// time-left, uptime, pause…), as a duration.
func (s Stats) Duration(key string) (time.Duration, error) {
	f, err := s.Float(key)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Second)), nil
}

// Bool returns the value of key, "true" or "false" (draining).
func (s Stats) Bool(key string) (bool, error) {
	v, err := s.value(key)
	if err != nil {
		return false, err
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w %q: %q is not true or false", ErrStatsKey, key, v)
}

func (s Stats) value(key string) (string, error) {
	v, ok := s[key]
	if !ok {
		return "", fmt.Errorf("%w %q: missing", ErrStatsKey, key)
	}
	return v, nil
}

// ParseStats parses the YAML dictionary of a stats reply ("---" then
// "key: value" lines). It also returns the keys in the order the server
// printed them, for display.
func ParseStats(body []byte) (Stats, []string, error) {
	lines, err := yamlLines(body)
	if err != nil {
		return nil, nil, err
	}
	s := make(Stats, len(lines))
	keys := make([]string, 0, len(lines))
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("%w: line %d %q is not \"key: value\"", errBadYAML, i+2, l)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			} else {
				v = v[1 : len(v)-1]
			}
		}
		if _, dup := s[k]; !dup {
			keys = append(keys, k)
		}
		s[k] = v
	}
	return s, keys, nil
}

// ParseList parses the YAML list of a list-tubes reply ("---" then
// "- name" lines).
func ParseList(body []byte) ([]string, error) {
	lines, err := yamlLines(body)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(lines))
	for i, l := range lines {
		name, ok := strings.CutPrefix(l, "- ")
		if !ok {
			return nil, fmt.Errorf("%w: line %d %q is not \"- item\"", errBadYAML, i+2, l)
		}
		names = append(names, name)
	}
	return names, nil
}

// yamlLines checks the document marker and returns the non-empty lines
// after it.
func yamlLines(body []byte) ([]string, error) {
	rest, ok := bytes.CutPrefix(body, []byte("---\n"))
	if !ok {
		if string(body) == "---" || len(body) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: does not start with \"---\"", errBadYAML)
	}
	var lines []string
	for _, l := range strings.Split(string(rest), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}
