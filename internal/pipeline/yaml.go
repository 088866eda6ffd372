package pipeline

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ynode is a YAML value with the line it starts on: the loader works on
// these so every message can name the line that is wrong.
type ynode struct {
	kind  nodeKind
	line  int
	value any // scalars: string, int64, uint64, float64, bool or nil
	keys  []*ynode
	vals  []*ynode
	seq   []*ynode
}

type nodeKind int

const (
	scalarNode nodeKind = iota
	mapNode
	seqNode
)

func (n *ynode) describe() string {
	switch n.kind {
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	}
	switch v := n.value.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(n.value)
}

// parseYAML parses src into a ynode tree. An empty document is an empty map.
func parseYAML(src []byte) (*ynode, error) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlError(err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &ynode{kind: mapNode, line: 1}, nil
	}
	return convert(f.Docs[0].Body)
}

// yamlError turns the parser's error into "LINE: message".
func yamlError(err error) error {
	var se yaml.Error
	if errors.As(err, &se) {
		if tk := se.GetToken(); tk != nil && tk.Position != nil {
			return &lineError{line: tk.Position.Line, msg: "invalid YAML: " + se.GetMessage()}
		}
	}
	return &lineError{line: 1, msg: "invalid YAML: " + err.Error()}
}

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func lineOf(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func convert(n ast.Node) (*ynode, error) {
	switch v := n.(type) {
	case *ast.MappingNode:
		out := &ynode{kind: mapNode, line: lineOf(v)}
		for _, mv := range v.Values {
			if err := addPair(out, mv); err != nil {
				return nil, err
			}
		}
		if len(v.Values) > 0 {
			out.line = out.keys[0].line
		}
		return out, nil
	case *ast.MappingValueNode:
		out := &ynode{kind: mapNode}
		if err := addPair(out, v); err != nil {
			return nil, err
		}
		out.line = out.keys[0].line
		return out, nil
	case *ast.SequenceNode:
		out := &ynode{kind: seqNode, line: lineOf(v)}
		for _, e := range v.Values {
			c, err := convert(e)
			if err != nil {
				return nil, err
			}
			out.seq = append(out.seq, c)
		}
		return out, nil
	case *ast.TagNode:
		return convert(v.Value)
	case *ast.AnchorNode:
		return convert(v.Value)
	case *ast.AliasNode:
		return nil, &lineError{line: lineOf(v), msg: "YAML aliases (*name) are not supported in bootstrap files"}
	case *ast.NullNode:
		return &ynode{kind: scalarNode, line: lineOf(v)}, nil
	case *ast.LiteralNode:
		return &ynode{kind: scalarNode, line: lineOf(v), value: v.Value.Value}, nil
	case ast.ScalarNode:
		val := v.GetValue()
		switch x := val.(type) {
		case int:
			val = int64(x)
		case float32:
			val = float64(x)
		}
		return &ynode{kind: scalarNode, line: lineOf(v), value: val}, nil
	}
	return nil, &lineError{line: lineOf(n), msg: fmt.Sprintf("unsupported YAML construct %s", n.Type())}
}

func addPair(out *ynode, mv *ast.MappingValueNode) error {
	k, err := convert(mv.Key)
	if err != nil {
		return err
	}
	if k.kind != scalarNode || k.value == nil {
		return &lineError{line: k.line, msg: "mapping keys must be plain names"}
	}
	k.value = fmt.Sprint(k.value)
	var val *ynode
	if mv.Value == nil {
		val = &ynode{kind: scalarNode, line: k.line}
	} else if val, err = convert(mv.Value); err != nil {
		return err
	}
	if val.line == 0 {
		val.line = k.line
	}
	for _, prev := range out.keys {
		if prev.value == k.value {
			return &lineError{line: k.line, msg: fmt.Sprintf("key %q repeated (first at line %d)", k.value, prev.line)}
		}
	}
	out.keys = append(out.keys, k)
	out.vals = append(out.vals, val)
	return nil
}

// key returns the map's key name at i.
func (n *ynode) key(i int) string { return n.keys[i].value.(string) }
