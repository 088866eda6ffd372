package config

import (
	"fmt"
	"strings"
)

// indentMistake finds the first line of src whose indentation fits no
// block it could belong to, which the YAML parser reports at a line of its
// own choosing (often the line before): a line indented deeper than the one
// before it when that one opens no block ("key: value", then a deeper
// "key:"), or one that dedents to a column no enclosing block uses. It
// returns 0 when every line's indentation is consistent, or when the file
// has what this plain reading does not follow (block scalars, flow
// collections over several lines, tabs).
func indentMistake(src []byte) (line int, what string) {
	type level struct {
		indent int
		item   bool // the line is a list item ("- ...")
	}
	var stack []level // the indentation of the enclosing blocks, outermost first
	opens := true     // the previous line opens a block beneath it
	for i, l := range strings.Split(string(src), "\n") {
		text := strings.TrimLeft(l, " ")
		if text == "" || strings.HasPrefix(text, "#") || text == "---" || text == "..." {
			continue
		}
		if strings.HasPrefix(text, "\t") || strings.ContainsAny(text[len(text)-1:], "|>[{") {
			return 0, "" // tabs, block scalars and flow collections: leave them to the parser
		}
		indent := len(l) - len(text)
		top := -1
		if len(stack) > 0 {
			top = stack[len(stack)-1].indent
		}
		switch {
		case indent > top && opens:
			stack = append(stack, level{indent: indent})
		case indent > top:
			return i + 1, fmt.Sprintf("indented %d spaces, deeper than the line before, which opens no block beneath it", indent)
		default:
			for len(stack) > 0 && stack[len(stack)-1].indent > indent {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 0 || stack[len(stack)-1].indent != indent {
				want := make([]string, 0, len(stack))
				for _, s := range stack {
					want = append(want, fmt.Sprint(s.indent))
				}
				return i + 1, fmt.Sprintf("indented %d spaces, which lines up with no enclosing block (those use %s)", indent, strings.Join(want, ", "))
			}
		}
		item := strings.HasPrefix(text, "- ") || text == "-"
		body := text
		if item {
			body = strings.TrimLeft(strings.TrimPrefix(text, "-"), " ")
		}
		if uncommented, _, found := strings.Cut(body, " #"); found {
			body = strings.TrimRight(uncommented, " ")
		}
		opens = strings.HasSuffix(body, ":") || body == ""
		if item && !opens && strings.Contains(body, ": ") {
			// "- key: value" starts a mapping whose further keys line up
			// with key, two columns in.
			stack = append(stack, level{indent: indent + (len(text) - len(body)), item: true})
			opens = false
		}
	}
	return 0, ""
}
