package policy

import (
	"fmt"
	"strings"
)

// nameChars are the bytes beanstalkd allows in a tube name.
const nameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()"

// maxNameLen is beanstalkd's limit on a tube name, in bytes.
const maxNameLen = 200

// checkTubeName returns what is wrong with a tube name and how to fix it,
// or "" when it is a name beanstalkd accepts.
func checkTubeName(name string) (what, fix string) {
	const fixChars = "use letters, digits and - + / ; . $ _ ( ), not starting with -"
	switch {
	case name == "":
		return "the tube name is empty", "write a tube name"
	case len(name) > maxNameLen:
		return fmt.Sprintf("the tube name is %d bytes, more than %d", len(name), maxNameLen), "shorten it"
	case name[0] == '-':
		return fmt.Sprintf("the tube name %q starts with -", name), fixChars
	}
	if i := strings.IndexFunc(name, func(c rune) bool { return !strings.ContainsRune(nameChars, c) }); i >= 0 {
		return fmt.Sprintf("the tube name %q holds %q, which tube names cannot", name, rune(name[i])), fixChars
	}
	return "", ""
}

// checkEntryName checks a key under tubes:, a tube name or a glob pattern.
func checkEntryName(name string) (what, fix string) {
	if !IsPattern(name) {
		return checkTubeName(name)
	}
	const fixChars = "a pattern is a tube name with * (any run of characters) or ? (one character), such as email-*"
	switch {
	case len(name) > maxNameLen:
		return fmt.Sprintf("the pattern is %d bytes, more than %d", len(name), maxNameLen), "shorten it"
	case name[0] == '-':
		return fmt.Sprintf("the pattern %q starts with -, so no tube can match it", name), fixChars
	}
	for _, c := range name {
		if c != '*' && c != '?' && !strings.ContainsRune(nameChars, c) {
			return fmt.Sprintf("the pattern %q holds %q, which is neither a wildcard (* ?) nor allowed in tube names", name, c), fixChars
		}
	}
	return "", ""
}
