package client

import (
	"fmt"
	"time"
)

// MaxTubeNameLen is the longest tube name the protocol allows, in bytes.
const MaxTubeNameLen = 200

// ValidTubeName reports whether name is a tube name beanstalkd accepts: 1 to
// 200 bytes of letters, digits and - + / ; . $ _ ( ), not starting with a
// hyphen. Methods check names with it before sending, so that a bad name
// never reaches the server (where it would change nothing and answer
// BAD_FORMAT).
func ValidTubeName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadTubeName)
	}
	if len(name) > MaxTubeNameLen {
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadTubeName, len(name), MaxTubeNameLen)
	}
	if name[0] == '-' {
		return fmt.Errorf("%w: %q starts with a hyphen", ErrBadTubeName, name)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '-' || b == '+' || b == '/' || b == ';' || b == '.' || b == '$' || b == '_' || b == '(' || b == ')':
		default:
			return fmt.Errorf("%w: %q has %q at byte %d (allowed: letters, digits, - + / ; . $ _ ( ))", ErrBadTubeName, name, b, i)
		}
	}
	return nil
}

// seconds converts a duration to the whole seconds the protocol speaks,
// rounding up so that a wait or delay is never shorter than asked; a
// negative duration is zero.
func seconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Second - 1) / time.Second)
}
