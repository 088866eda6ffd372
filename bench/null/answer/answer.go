// Package answer answers the two commands a put benchmark sends (use and
// put) the way beanstalkd does, storing nothing: the whole of the null
// servers bench/ceiling measures.
package answer

import (
	"bytes"
	"strconv"
)

// Answerer answers one connection's command lines.
type Answerer struct {
	id  uint64
	out []byte
}

// Answer returns the reply to line (valid until the next call) and how
// many bytes of body and CRLF follow the line, to be dropped.
func (a *Answerer) Answer(line []byte) (reply []byte, skip int) {
	a.out = a.out[:0]
	switch {
	case bytes.HasPrefix(line, []byte("put ")):
		f := bytes.Fields(line)
		n := -1
		if len(f) == 5 {
			n, _ = strconv.Atoi(string(f[4]))
		}
		if n < 0 {
			return append(a.out, "BAD_FORMAT\r\n"...), 0
		}
		a.id++
		a.out = append(a.out, "INSERTED "...)
		a.out = strconv.AppendUint(a.out, a.id, 10)
		return append(a.out, "\r\n"...), n + 2
	case bytes.HasPrefix(line, []byte("use ")):
		a.out = append(a.out, "USING "...)
		a.out = append(a.out, bytes.TrimSpace(line[4:])...)
		return append(a.out, "\r\n"...), 0
	}
	return append(a.out, "UNKNOWN_COMMAND\r\n"...), 0
}
