package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// field is one key of a YAML mapping with its line and value.
type field struct {
	key  string
	line int
	val  ast.Node
}

// reader turns YAML nodes into values, reporting problems with lines.
type reader struct {
	ps      *problems
	anchors map[string]ast.Node
}

// collectAnchors records every anchor of the document so that aliases
// resolve wherever they appear.
func (r *reader) collectAnchors(n ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if name, ok := v.Name.(*ast.StringNode); ok {
			r.anchors[name.Value] = v.Value
		}
		r.collectAnchors(v.Value)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			r.collectAnchors(mv.Value)
		}
	case *ast.MappingValueNode:
		r.collectAnchors(v.Value)
	case *ast.TagNode:
		r.collectAnchors(v.Value)
	case *ast.SequenceNode:
		for _, e := range v.Values {
			r.collectAnchors(e)
		}
	}
}

// resolve looks through anchors, aliases and tags.
func (r *reader) resolve(n ast.Node) ast.Node {
	for i := 0; i < 16 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if s, ok := v.Value.(*ast.StringNode); ok {
				name = s.Value
			}
			n = r.anchors[name]
		default:
			return n
		}
	}
	return n
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// kind names a node's type for messages.
func kind(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode:
		return "a number"
	case *ast.BoolNode:
		return "true or false"
	case *ast.NullNode, nil:
		return "empty"
	}
	return "a " + strings.ToLower(fmt.Sprintf("%T", n))
}

// fields returns the keys of a mapping in file order, merge keys (<<)
// expanded; a key written beside a merge key wins over the merged one.
// An empty value is an empty mapping. A value that is not a mapping is reported (at line at, path) and
// gives nil, false.
func (r *reader) fields(n ast.Node, at int, path, fix string) ([]field, bool) {
	n = r.resolve(n)
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	case *ast.NullNode:
		return nil, true // "key:" with nothing beneath is an empty mapping
	default:
		if l := line(n); l > 0 {
			at = l
		}
		r.ps.add(at, path, fmt.Sprintf("is %s, not a mapping of keys", kind(n)), fix)
		return nil, false
	}
	var own, merged []field
	for _, mv := range values {
		if mv.Key.IsMergeKey() {
			sub, ok := r.fields(mv.Value, line(mv.Key), path+".<<", "merge (<<) only mappings, such as <<: *base")
			if ok {
				merged = append(merged, sub...)
			}
			continue
		}
		key := mv.Key.GetToken().Value
		own = append(own, field{key: key, line: line(mv.Key), val: mv.Value})
	}
	seen := map[string]bool{}
	for _, f := range own {
		seen[f.key] = true
	}
	out := own
	for _, f := range merged {
		if !seen[f.key] {
			seen[f.key] = true
			out = append(out, f)
		}
	}
	return out, true
}

// unknownKey reports a key not among known, suggesting the nearest one.
func (r *reader) unknownKey(f field, path string, known []string) {
	fix := "the keys here are " + strings.Join(known, ", ")
	if s := nearest(f.key, known); s != "" {
		fix = fmt.Sprintf("did you mean %q? %s", s, fix)
	}
	r.ps.add(f.line, join(path, f.key), fmt.Sprintf("unknown key %q", f.key), fix)
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
	n := r.resolve(f.val)
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return v.GetToken().Value, true
	case *ast.NullNode, nil:
		r.ps.add(f.line, path, "has no value", fix)
	default:
		r.ps.add(f.line, path, fmt.Sprintf("is %s, not a single value", kind(n)), fix)
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
	d, err := ParseDuration(s)
	if err != nil {
		r.ps.add(line(f.val), path, err.Error(), fix)
		return 0, false
	}
	if d < 0 {
		r.ps.add(line(f.val), path, fmt.Sprintf("%s is negative", s), fix)
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
		r.ps.add(line(f.val), path, fmt.Sprintf("%q is not a whole number", s), fix)
		return 0, false
	case n < 0:
		r.ps.add(line(f.val), path, fmt.Sprintf("%d is negative", n), fix)
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
	n, err := ParseSize(s)
	switch {
	case err != nil:
		r.ps.add(line(f.val), path, err.Error(), fix)
		return 0, false
	case n < 0:
		r.ps.add(line(f.val), path, fmt.Sprintf("%s is negative", s), fix)
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
		r.ps.add(line(f.val), path, fmt.Sprintf("%q is not a number", s), fix)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (r *reader) boolean(f field, path string) (bool, bool) {
	fix := "write true or false"
	n := r.resolve(f.val)
	if b, ok := n.(*ast.BoolNode); ok {
		return b.Value, true
	}
	if _, ok := n.(*ast.NullNode); ok || n == nil {
		r.ps.add(f.line, path, "has no value", fix)
		return false, false
	}
	r.ps.add(line(n), path, fmt.Sprintf("is %s, not true or false", kind(n)), fix)
	return false, false
}

// nearest returns the word of known closest to s when it is close
// enough to be a likely typo, else "".
func nearest(s string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := distance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
