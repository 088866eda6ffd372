package policy

import (
	"sort"
	"strings"
)

// Set is the policies of a server, chosen per tube by name. It is
// immutable once built, so it is safe for concurrent use; a reload builds
// a new Set.
//
// Matching rule, in order:
//  1. an entry whose name is exactly the tube's name;
//  2. else the most specific matching pattern: the one with the most
//     literal (non-wildcard) characters; on a tie, the one written first
//     in the file;
//  3. else the default policy, if the file has one;
//  4. else nil: the tube behaves exactly like beanstalkd.
type Set struct {
	exact    map[string]*Policy
	patterns []patternEntry // sorted: most specific first, then file order
	def      *Policy
	source   string // file name the set was loaded from, for messages

	schedules []*Schedule // in file order
}

// Schedules returns the periodic jobs of the file, in file order. The
// caller must not change them.
func (s *Set) Schedules() []*Schedule {
	if s == nil {
		return nil
	}
	return s.schedules
}

type patternEntry struct {
	pattern string
	literal int // number of non-wildcard characters
	order   int // position in the file
	policy  *Policy
}

// NewSet builds a Set from exact tube names, glob patterns (names holding
// `*` or `?`) and a default (nil for none). It does not validate; Parse
// and Load do.
func NewSet(entries map[string]*Policy, def *Policy) *Set {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	order := make(map[string]int, len(names))
	for i, n := range names {
		order[n] = i
	}
	return newSet(entries, order, def, "")
}

func newSet(entries map[string]*Policy, order map[string]int, def *Policy, source string) *Set {
	s := &Set{exact: map[string]*Policy{}, def: def, source: source}
	for name, p := range entries {
		if IsPattern(name) {
			s.patterns = append(s.patterns, patternEntry{pattern: name, literal: literalLen(name), order: order[name], policy: p})
			continue
		}
		s.exact[name] = p
	}
	sort.Slice(s.patterns, func(i, j int) bool {
		a, b := s.patterns[i], s.patterns[j]
		if a.literal != b.literal {
			return a.literal > b.literal
		}
		return a.order < b.order
	})
	return s
}

// Lookup returns the policy for tube, following the matching rule of Set,
// or nil when the tube has none. A nil *Set has no policies.
func (s *Set) Lookup(tube string) *Policy {
	p, _ := s.Match(tube)
	return p
}

// Match is Lookup that also says which entry matched: the exact name, the
// pattern, "default", or "" when none did.
func (s *Set) Match(tube string) (*Policy, string) {
	if s == nil {
		return nil, ""
	}
	if p, ok := s.exact[tube]; ok {
		return p, tube
	}
	for _, e := range s.patterns {
		if Glob(e.pattern, tube) {
			return e.policy, e.pattern
		}
	}
	if s.def != nil {
		return s.def, "default"
	}
	return nil, ""
}

// Entries returns the names of the set's entries: exact tube names in
// sorted order, then patterns in the order they are tried.
func (s *Set) Entries() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, s.Len())
	for n := range s.exact {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, e := range s.patterns {
		names = append(names, e.pattern)
	}
	return names
}

// Default returns the default policy, or nil.
func (s *Set) Default() *Policy {
	if s == nil {
		return nil
	}
	return s.def
}

// Len returns the number of named and pattern entries (the default not
// counted).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.exact) + len(s.patterns)
}

// Source returns the file the set was loaded from, or "".
func (s *Set) Source() string {
	if s == nil {
		return ""
	}
	return s.source
}

// IsPattern reports whether name is a glob pattern (holds `*` or `?`).
// Tube names cannot hold those characters, so the two never clash.
func IsPattern(name string) bool { return strings.ContainsAny(name, "*?") }

func literalLen(pattern string) int {
	n := 0
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '*' && pattern[i] != '?' {
			n++
		}
	}
	return n
}

// Glob reports whether name matches pattern, where `*` matches any run of
// characters (also none, also `/`) and `?` matches exactly one; every
// other character matches itself.
func Glob(pattern, name string) bool {
	// Iterative wildcard matching with one backtrack point, linear in
	// practice and never exponential.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
