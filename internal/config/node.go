package config

import (
	"errors"
	"fmt"
	"math"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Kind is the shape of a Node.
type Kind uint8

// The kinds of Node.
const (
	// Null is an empty value ("key:" with nothing beneath, or null).
	Null Kind = iota
	// Scalar is a single value: Value holds it, Text its spelling.
	Scalar
	// Map is a mapping: Fields holds its keys in file order.
	Map
	// List is a sequence: Items holds its elements.
	List
)

// Node is one YAML value with the line it starts on, so that every message
// about it can name the line. Anchors, aliases and merge keys are already
// resolved: a Node reached through an alias is the anchored Node itself
// (shared, read-only).
type Node struct {
	Kind Kind
	// Line is the 1-based line the value starts on.
	Line int
	// Value is a Scalar's value: string, int64, uint64, float64 or bool.
	Value any
	// Text is a Scalar's text as written (without quotes).
	Text string
	// Fields are a Map's keys in file order; keys merged in with << follow
	// the mapping's own keys, which win over them.
	Fields []Field
	// Items are a List's elements.
	Items []*Node
}

// Field is one key of a mapping, the line of the key, and its value
// (never nil: an empty value is a Null Node).
type Field struct {
	Key   string
	Line  int
	Value *Node
}

// Describe names the node for messages: "a mapping", "a list", "empty",
// "a number", "true or false" or "a string".
func (n *Node) Describe() string {
	switch n.Kind {
	case Map:
		return "a mapping"
	case List:
		return "a list"
	case Null:
		return "empty"
	}
	switch n.Value.(type) {
	case int64, uint64, float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "a string"
}

// Error is a file that is not usable YAML: Line (0 when unknown), What is
// wrong and how to Fix it.
type Error struct {
	Line      int
	What, Fix string
}

// Error returns "LINE: WHAT; FIX".
func (e *Error) Error() string { return fmt.Sprintf("%d: %s; %s", e.Line, e.What, e.Fix) }

const syntaxFix = "correct the YAML (indent with spaces; one key per line)"

// Parse reads one YAML document into a Node tree. An empty document is an
// empty Map. Errors are *Error: a syntax error (a key repeated in one
// mapping included), more than one document, an alias to an unknown or
// enclosing anchor, or a merge (<<) of something that is not a mapping.
func Parse(data []byte) (*Node, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			at := ye.GetToken().Position.Line
			// The parser blames a line near the mistake, often the one
			// before a line indented wrongly: name that line instead.
			if l, what := indentMistake(data); l > 0 && l >= at-2 && l <= at+2 {
				return nil, &Error{Line: l, What: what, Fix: "indent it as the lines of its block (with spaces)"}
			}
			return nil, &Error{Line: at, What: "YAML syntax: " + ye.GetMessage(), Fix: syntaxFix}
		}
		return nil, &Error{What: "YAML syntax: " + err.Error(), Fix: syntaxFix}
	}
	if len(f.Docs) > 1 {
		return nil, &Error{Line: line(f.Docs[1].Body), What: "the file holds more than one YAML document", Fix: "keep one document (remove the second ---)"}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &Node{Kind: Map, Line: 1}, nil
	}
	c := &converter{anchors: map[string]ast.Node{}, done: map[ast.Node]*Node{}, busy: map[ast.Node]bool{}}
	c.collect(f.Docs[0].Body)
	n, err := c.convert(f.Docs[0].Body)
	if err != nil {
		return nil, err
	}
	if n.Kind == Null {
		return &Node{Kind: Map, Line: n.Line}, nil
	}
	return n, nil
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// converter turns the parser's tree into Nodes. done shares the Node of an
// anchored value between its aliases (no exponential expansion); busy
// catches an alias inside its own anchor.
type converter struct {
	anchors map[string]ast.Node
	done    map[ast.Node]*Node
	busy    map[ast.Node]bool
}

// collect records every anchor of the document, so that aliases resolve
// wherever they appear.
func (c *converter) collect(n ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if name, ok := v.Name.(*ast.StringNode); ok {
			c.anchors[name.Value] = v.Value
		}
		c.collect(v.Value)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			c.collect(mv.Value)
		}
	case *ast.MappingValueNode:
		c.collect(v.Value)
	case *ast.TagNode:
		c.collect(v.Value)
	case *ast.SequenceNode:
		for _, e := range v.Values {
			c.collect(e)
		}
	}
}

func (c *converter) convert(n ast.Node) (*Node, error) {
	switch v := n.(type) {
	case nil:
		return &Node{Kind: Null}, nil
	case *ast.AnchorNode:
		return c.anchored(v.Value)
	case *ast.TagNode:
		return c.convert(v.Value)
	case *ast.AliasNode:
		name := ""
		if s, ok := v.Value.(*ast.StringNode); ok {
			name = s.Value
		}
		target, ok := c.anchors[name]
		if !ok {
			return nil, &Error{Line: line(v), What: fmt.Sprintf("alias *%s names no anchor", name), Fix: "define &" + name + " before using it"}
		}
		if c.busy[target] {
			return nil, &Error{Line: line(v), What: fmt.Sprintf("alias *%s is inside its own anchor", name), Fix: "an alias must not refer to a value that contains it"}
		}
		return c.anchored(target)
	case *ast.MappingNode:
		return c.mapping(v.Values, line(v))
	case *ast.MappingValueNode:
		return c.mapping([]*ast.MappingValueNode{v}, line(v))
	case *ast.SequenceNode:
		out := &Node{Kind: List, Line: line(v)}
		for _, e := range v.Values {
			item, err := c.convert(e)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, item)
		}
		return out, nil
	case *ast.NullNode:
		return &Node{Kind: Null, Line: line(v)}, nil
	case *ast.LiteralNode:
		return &Node{Kind: Scalar, Line: line(v), Value: v.Value.Value, Text: v.Value.Value}, nil
	case *ast.StringNode:
		return &Node{Kind: Scalar, Line: line(v), Value: v.Value, Text: v.Value}, nil
	case ast.ScalarNode:
		val := v.GetValue()
		switch x := val.(type) {
		case int:
			val = int64(x)
		case uint64:
			if x <= math.MaxInt64 {
				val = int64(x)
			}
		case float32:
			val = float64(x)
		}
		return &Node{Kind: Scalar, Line: line(v), Value: val, Text: v.GetToken().Value}, nil
	}
	return nil, &Error{Line: line(n), What: fmt.Sprintf("unsupported YAML construct %s", n.Type()), Fix: syntaxFix}
}

// anchored converts an anchored value once; its aliases share the Node.
func (c *converter) anchored(target ast.Node) (*Node, error) {
	if done := c.done[target]; done != nil {
		return done, nil
	}
	c.busy[target] = true
	out, err := c.convert(target)
	delete(c.busy, target)
	if err != nil {
		return nil, err
	}
	c.done[target] = out
	return out, nil
}

// mapping converts the pairs of one mapping, expanding merge keys.
func (c *converter) mapping(values []*ast.MappingValueNode, at int) (*Node, error) {
	out := &Node{Kind: Map, Line: at}
	var merged []Field
	for _, mv := range values {
		if mv.Key.IsMergeKey() {
			m, err := c.convert(mv.Value)
			if err != nil {
				return nil, err
			}
			if m.Kind != Map {
				return nil, &Error{Line: line(mv.Key), What: "merge (<<) of " + m.Describe(), Fix: "merge (<<) only mappings, such as <<: *base"}
			}
			merged = append(merged, m.Fields...)
			continue
		}
		k, err := c.convert(mv.Key)
		if err != nil {
			return nil, err
		}
		if k.Kind != Scalar {
			return nil, &Error{Line: line(mv.Key), What: "a mapping key is " + k.Describe(), Fix: "write keys as plain names"}
		}
		val, err := c.convert(mv.Value)
		if err != nil {
			return nil, err
		}
		if val.Line == 0 {
			val.Line = k.Line
		}
		out.Fields = append(out.Fields, Field{Key: k.Text, Line: k.Line, Value: val})
	}
	if len(out.Fields) > 0 {
		out.Line = out.Fields[0].Line
	}
	for _, f := range merged {
		if out.Get(f.Key) == nil {
			out.Fields = append(out.Fields, f)
		}
	}
	return out, nil
}

// Get returns the value of key in a Map, or nil when it has none.
func (n *Node) Get(key string) *Node {
	for i := range n.Fields {
		if n.Fields[i].Key == key {
			return n.Fields[i].Value
		}
	}
	return nil
}
