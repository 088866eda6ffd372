package config

import (
	"errors"
	"testing"
)

func TestParseTree(t *testing.T) {
	src := `x-base: &base
  a: 1
  b: two
top:
  <<: *base
  b: own
  list: [1, 2.5, true, "s"]
  empty:
`
	n, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != Map || len(n.Fields) != 2 || n.Fields[0].Key != "x-base" || n.Fields[1].Key != "top" || n.Fields[1].Line != 4 {
		t.Fatalf("root: %+v", n)
	}
	top := n.Get("top")
	var keys []string
	for _, f := range top.Fields {
		keys = append(keys, f.Key)
	}
	if got := keys; len(got) != 4 || got[0] != "b" || got[1] != "list" || got[2] != "empty" || got[3] != "a" {
		t.Fatalf("keys of top: %v (own keys first, then merged ones not overridden)", got)
	}
	if b := top.Get("b"); b.Text != "own" || b.Line != 6 {
		t.Errorf("b = %+v, want own at line 6", b)
	}
	if a := top.Get("a"); a.Value != int64(1) || a.Line != 2 || a.Describe() != "a number" {
		t.Errorf("merged a = %+v, want 1 from line 2", a)
	}
	list := top.Get("list")
	if list.Kind != List || len(list.Items) != 4 || list.Items[1].Value != 2.5 || list.Items[2].Describe() != "true or false" || list.Items[3].Describe() != "a string" {
		t.Errorf("list = %+v", list)
	}
	if e := top.Get("empty"); e.Kind != Null || e.Describe() != "empty" || e.Line != 8 {
		t.Errorf("empty = %+v", e)
	}
	if top.Get("missing") != nil {
		t.Error("Get of a missing key is not nil")
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n"} {
		n, err := Parse([]byte(src))
		if err != nil || n.Kind != Map || len(n.Fields) != 0 {
			t.Errorf("Parse(%q) = %+v, %v; want an empty map", src, n, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"repeated key", "a: 1\nb: 2\na: 3\n", `3: YAML syntax: mapping key "a" already defined at [1:1]; correct the YAML (indent with spaces; one key per line)`},
		{"unclosed list", "a: [1, 2\n", `1: YAML syntax: sequence end token ']' not found; correct the YAML (indent with spaces; one key per line)`},
		{"two documents", "a: 1\n---\nb: 2\n", `3: the file holds more than one YAML document; keep one document (remove the second ---)`},
		{"merge of a scalar", "a:\n  <<: 5\n", `2: merge (<<) of a number; merge (<<) only mappings, such as <<: *base`},
		{"alias inside its anchor", "a: &x\n  b: *x\n", `2: alias *x is inside its own anchor; an alias must not refer to a value that contains it`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Parse([]byte(tc.src))
			var ce *Error
			if !errors.As(err, &ce) || err.Error() != tc.want {
				t.Fatalf("Parse = %+v, %v; want %s", n, err, tc.want)
			}
		})
	}
}

func TestParseSharesAliases(t *testing.T) {
	// Each level doubles the references; sharing keeps the tree small.
	src := "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\ne: [*d, *d]\n"
	n, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := n.Get("e")
	if e.Items[0] != e.Items[1] || e.Items[0] != n.Get("d") {
		t.Fatal("aliases of one anchor are not the same node")
	}
}
