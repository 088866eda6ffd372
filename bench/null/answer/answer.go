// Package answer answers the commands a put or reserve+delete benchmark
// sends the way beanstalkd does, storing nothing: the whole of the null
// servers bench/ceiling measures.
package answer

import (
	"bytes"
	"strconv"
)

// Answerer answers one connection's command lines: use, watch, ignore,
// put (INSERTED with the next id; the body is dropped), reserve and
// reserve-with-timeout (RESERVED with the next id and a 64-byte body, as
// if the tube were never empty), delete (DELETED); anything else gets
// UNKNOWN_COMMAND.
type Answerer struct {
	id  uint64
	out []byte
}

// body is every reserved job's body.
var body = bytes.Repeat([]byte("x"), 64)

// Answer returns the reply to line (valid until the next call) and how
// many bytes of body and CRLF follow the line, to be dropped.
func (a *Answerer) Answer(line []byte) (reply []byte, skip int) {
	a.out = a.out[:0]
	f := bytes.Fields(line)
	if len(f) == 0 {
		return append(a.out, "UNKNOWN_COMMAND\r\n"...), 0
	}
	switch string(f[0]) {
	case "put":
		n := -1
		if len(f) == 5 {
			n, _ = strconv.Atoi(string(f[4]))
		}
		if n < 0 {
			return append(a.out, "BAD_FORMAT\r\n"...), 0
		}
		return a.number("INSERTED "), n + 2
	case "use":
		if len(f) == 2 {
			a.out = append(a.out, "USING "...)
			a.out = append(a.out, f[1]...)
			return append(a.out, "\r\n"...), 0
		}
	case "watch":
		return append(a.out, "WATCHING 2\r\n"...), 0
	case "ignore":
		return append(a.out, "WATCHING 1\r\n"...), 0
	case "reserve", "reserve-with-timeout":
		a.number("RESERVED ")
		a.out = a.out[:len(a.out)-2]
		a.out = append(a.out, " 64\r\n"...)
		a.out = append(a.out, body...)
		return append(a.out, "\r\n"...), 0
	case "delete":
		return append(a.out, "DELETED\r\n"...), 0
	}
	return append(a.out, "UNKNOWN_COMMAND\r\n"...), 0
}

// number appends word, the next id and CRLF.
func (a *Answerer) number(word string) []byte {
	a.id++
	a.out = append(a.out, word...)
	a.out = strconv.AppendUint(a.out, a.id, 10)
	a.out = append(a.out, "\r\n"...)
	return a.out
}
