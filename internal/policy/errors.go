package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is wrapped by every error Parse and Load return for a config
// file that cannot be used.
var ErrInvalid = errors.New("policy: invalid config")

// Problem is one thing wrong in a config file.
type Problem struct {
	File string
	Line int // 1-based; 0 when the problem is the whole file
	// Path is where in the file, such as "tubes.emails.retry.factor".
	Path string
	// What is what is wrong; Fix says how to put it right.
	What, Fix string
}

// String returns "FILE:LINE: PATH: WHAT; FIX".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.What)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// ConfigError lists every problem found in a config file, in line order.
type ConfigError struct {
	Problems []Problem
}

// Error returns the problems one per line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalid.
func (e *ConfigError) Unwrap() error { return ErrInvalid }

// problems collects the problems of one file.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(line int, path, what, fix string) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Path: path, What: what, Fix: fix})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sort.SliceStable(ps.list, func(i, j int) bool { return ps.list[i].Line < ps.list[j].Line })
	return &ConfigError{Problems: ps.list}
}
