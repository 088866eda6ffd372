package pipetest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/reprieve/reprieve/internal/pipeline"
)

// compare renders, for every expected queue, the wanted messages and the
// ones seen in the same shape, and returns their line diff for the queues
// that differ ("" if none does).
func compare(expect map[string][]Want, seen map[string][]*pipeline.Message) string {
	queues := make([]string, 0, len(expect))
	for q := range expect {
		queues = append(queues, q)
	}
	sort.Strings(queues)
	var b strings.Builder
	for _, q := range queues {
		wants, got := expect[q], seen[q]
		var want, have []string
		for i := range max(len(wants), len(got)) {
			switch {
			case i >= len(got):
				want = append(want, renderWant(wants[i])...)
			case i >= len(wants):
				have = append(have, renderGot(Want{Body: new(string)}, got[i])...)
			default:
				want = append(want, renderWant(wants[i])...)
				have = append(have, renderGot(wants[i], got[i])...)
			}
		}
		if strings.Join(want, "\n") == strings.Join(have, "\n") {
			continue
		}
		fmt.Fprintf(&b, "%s: want %d %s, got %d\n", q, len(wants), plural(len(wants), "message"), len(got))
		for _, l := range lineDiff(want, have) {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// renderWant writes an expectation as YAML-like lines.
func renderWant(w Want) []string {
	var l []string
	add := func(s string) {
		if len(l) == 0 {
			l = append(l, "- "+s)
		} else {
			l = append(l, "  "+s)
		}
	}
	if w.Body != nil {
		add("body: " + strconv.Quote(*w.Body))
	}
	if w.BodyContains != nil {
		add("body_contains: " + strconv.Quote(*w.BodyContains))
	}
	for _, k := range sortedKeys(w.Meta) {
		add("meta." + k + ": " + strconv.Quote(w.Meta[k]))
	}
	if w.Attempt != nil {
		add("attempt: " + strconv.Itoa(*w.Attempt))
	}
	if w.Errors != nil {
		add(fmt.Sprintf("errors: %d", len(w.Errors)))
		for _, e := range w.Errors {
			add("  - module: " + e.Module)
			if e.Error != nil {
				add("    error: " + strconv.Quote(*e.Error))
			}
			if e.ErrorContains != nil {
				add("    error_contains: " + strconv.Quote(*e.ErrorContains))
			}
		}
	}
	if len(l) == 0 {
		add("{}")
	}
	return l
}

// renderGot writes m in the shape of w: a field w checks shows m's value,
// or w's own line when m satisfies it (a substring that is there).
func renderGot(w Want, m *pipeline.Message) []string {
	g := Want{Meta: map[string]string{}}
	if w.Body != nil {
		g.Body = ptr(string(m.Body))
	}
	if w.BodyContains != nil {
		if strings.Contains(string(m.Body), *w.BodyContains) {
			g.BodyContains = w.BodyContains
		} else {
			g.Body = ptr(string(m.Body))
		}
	}
	for k := range w.Meta {
		if v, ok := m.Meta[k]; ok {
			g.Meta[k] = v
		} else {
			g.Meta[k] = "(absent)"
		}
	}
	if w.Attempt != nil {
		g.Attempt = ptr(m.Attempt)
	}
	if w.Errors != nil {
		g.Errors = []WantError{}
		for i, f := range m.Errors {
			e := WantError{Module: f.Module}
			var want WantError
			if i < len(w.Errors) {
				want = w.Errors[i]
			}
			switch {
			case want.ErrorContains != nil && strings.Contains(f.Error, *want.ErrorContains):
				e.ErrorContains = want.ErrorContains
			case want.ErrorContains != nil || want.Error != nil:
				e.Error = ptr(f.Error)
			}
			g.Errors = append(g.Errors, e)
		}
	}
	return renderWant(g)
}

func ptr[T any](v T) *T { return &v }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineDiff returns a minimal diff of a and b: common lines with "  ",
// lines only in a with "- ", lines only in b with "+ ".
func lineDiff(a, b []string) []string {
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}
