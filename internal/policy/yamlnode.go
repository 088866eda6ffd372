package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/config"
)

// field is one key of a YAML mapping with its line and value.
type field = config.Field

// reader turns config Nodes into values, reporting problems with lines.
type reader struct {
	ps *problems
}

// fields returns the keys of a mapping in file order (merge keys already
// expanded by config.Parse). An empty value is an empty mapping. A value
// that is not a mapping is reported (at line at, path) and gives nil,
// false.
func (r *reader) fields(n *config.Node, at int, path, fix string) ([]field, bool) {
	switch n.Kind {
	case config.Map:
		return n.Fields, true
	case config.Null:
		return nil, true // "key:" with nothing beneath is an empty mapping
	}
	if n.Line > 0 {
		at = n.Line
	}
	r.ps.add(at, path, fmt.Sprintf("is %s, not a mapping of keys", n.Describe()), fix)
	return nil, false
}

// unknownKey reports a key not among known, suggesting the nearest one.
func (r *reader) unknownKey(f field, path string, known []string) {
	fix := "the keys here are " + strings.Join(known, ", ")
	if s := config.Nearest(f.Key, known); s != "" {
		fix = fmt.Sprintf("did you mean %q? %s", s, fix)
	}
	r.ps.add(f.Line, join(path, f.Key), fmt.Sprintf("unknown key %q", f.Key), fix)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// scalar returns the text of a scalar node, and false for null, mappings
// and lists (reported).
func (r *reader) scalar(f field, path, fix string) (string, bool) {
	switch f.Value.Kind {
	case config.Scalar:
		return f.Value.Text, true
	case config.Null:
		r.ps.add(f.Line, path, "has no value", fix)
	default:
		r.ps.add(f.Line, path, fmt.Sprintf("is %s, not a single value", f.Value.Describe()), fix)
	}
	return "", false
}

// duration reads a non-negative human duration.
func (r *reader) duration(f field, path, example string) (time.Duration, bool) {
	fix := fmt.Sprintf("write a duration such as %s (units ms, s, m, h, d, w), or 0 for none", example)
	s, ok := r.scalar(f, path, fix)
	if !ok {
		return 0, false
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		r.ps.add(f.Value.Line, path, err.Error(), fix)
		return 0, false
	}
	if d < 0 {
		r.ps.add(f.Value.Line, path, fmt.Sprintf("%s is negative", s), fix)
		return 0, false
	}
	return d, true
}

// count reads a non-negative integer.
func (r *reader) count(f field, path, example string) (int, bool) {
	fix := fmt.Sprintf("write a whole number such as %s, or 0 for no limit", example)
	s, ok := r.scalar(f, path, fix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 0)
	switch {
	case err != nil:
		r.ps.add(f.Value.Line, path, fmt.Sprintf("%q is not a whole number", s), fix)
		return 0, false
	case n < 0:
		r.ps.add(f.Value.Line, path, fmt.Sprintf("%d is negative", n), fix)
		return 0, false
	}
	return int(n), true
}

// size reads a non-negative byte size.
func (r *reader) size(f field, path string) (int64, bool) {
	fix := "write a size such as 64MB, 512KiB or 1000000 (bytes), or 0 for no limit"
	s, ok := r.scalar(f, path, fix)
	if !ok {
		return 0, false
	}
	n, err := config.ParseSize(s)
	switch {
	case err != nil:
		r.ps.add(f.Value.Line, path, err.Error(), fix)
		return 0, false
	case n < 0:
		r.ps.add(f.Value.Line, path, fmt.Sprintf("%s is negative", s), fix)
		return 0, false
	}
	return n, true
}

// number reads a float.
func (r *reader) number(f field, path, fix string) (float64, bool) {
	s, ok := r.scalar(f, path, fix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.ps.add(f.Value.Line, path, fmt.Sprintf("%q is not a number", s), fix)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (r *reader) boolean(f field, path string) (bool, bool) {
	fix := "write true or false"
	n := f.Value
	if b, ok := n.Value.(bool); ok && n.Kind == config.Scalar {
		return b, true
	}
	if n.Kind == config.Null {
		r.ps.add(f.Line, path, "has no value", fix)
		return false, false
	}
	r.ps.add(n.Line, path, fmt.Sprintf("is %s, not true or false", n.Describe()), fix)
	return false, false
}
