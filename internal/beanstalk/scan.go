package beanstalk

import "math"

// The number and name readers below reproduce the C library calls
// beanstalkd 1.12 parses with (strtoumax behind read_u64/read_u32, strtol,
// strtoul, strspn), so that the same bytes are accepted and refused.

// nameChars marks the bytes allowed in a tube name.
var nameChars = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()" {
		t[c] = true
	}
	return t
}()

// IsNameChar reports whether c may appear in a tube name.
func IsNameChar(c byte) bool { return nameChars[c] }

// ValidTubeName reports whether name is a tube name beanstalkd accepts:
// 1 to 200 bytes of letters, digits and "-+/;.$_()", not starting with '-'.
func ValidTubeName[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > MaxTubeNameLen || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameChars[name[i]] {
			return false
		}
	}
	return true
}

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// readUint is beanstalkd's read_u64/read_u32: skip spaces (only ' '),
// require a digit, read digits, fail on overflow of max. If whole is set
// the number must end the input.
func readUint(b []byte, max uint64, whole bool) (uint64, []byte, bool) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	if len(b) == 0 || !isDigit(b[0]) {
		return 0, b, false
	}
	var v uint64
	i := 0
	over := false
	for ; i < len(b) && isDigit(b[i]); i++ {
		d := uint64(b[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			over = true
		}
		v = v*10 + d
	}
	if over || v > max {
		return 0, b, false
	}
	b = b[i:]
	if whole && len(b) != 0 {
		return 0, b, false
	}
	return v, b, true
}

func readU64(b []byte, whole bool) (uint64, []byte, bool) {
	return readUint(b, math.MaxUint64, whole)
}

func readU32(b []byte, whole bool) (uint32, []byte, bool) {
	v, rest, ok := readUint(b, math.MaxUint32, whole)
	return uint32(v), rest, ok
}

// strtol is C's strtol(b, &end, 10) on a 64-bit long: leading white
// space, an optional sign, digits. No digits gives 0 without error, as in
// glibc; ok is false only on overflow (ERANGE).
func strtol(b []byte) (v int64, ok bool) {
	neg, digits, mag, over := cnum(b)
	if !digits {
		return 0, true
	}
	if neg {
		if over || mag > 1<<63 {
			return 0, false
		}
		return int64(-mag), true
	}
	if over || mag > math.MaxInt64 {
		return 0, false
	}
	return int64(mag), true
}

// strtoul is C's strtoul(b, &end, 10) on a 64-bit unsigned long: like
// strtol, a minus sign negates modulo 2^64. digits reports whether any
// digit was read (beanstalkd's end_buf == start check).
func strtoul(b []byte) (v uint64, digits, ok bool) {
	neg, digits, mag, over := cnum(b)
	if !digits {
		return 0, false, true
	}
	if over {
		return 0, true, false
	}
	if neg {
		mag = -mag
	}
	return mag, true, true
}

// cnum reads the white space, sign and digits of a C integer.
func cnum(b []byte) (neg, digits bool, mag uint64, over bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	for ; i < len(b) && isDigit(b[i]); i++ {
		digits = true
		d := uint64(b[i] - '0')
		if mag > (math.MaxUint64-d)/10 {
			over = true
		}
		mag = mag*10 + d
	}
	return neg, digits, mag, over
}
