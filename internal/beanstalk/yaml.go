package beanstalk

import (
	"bytes"
	"strconv"
	"time"
)

// KeyValue is one line of a stats reply; Value is printed as is.
type KeyValue struct {
	Key, Value string
}

// Dict builds the YAML body of a stats reply the way beanstalkd prints it:
// "---\n" then "key: value\n" per key, in the order added.
type Dict struct {
	buf []byte
}

// Reset starts a new dictionary, keeping the buffer.
func (d *Dict) Reset() { d.buf = append(d.buf[:0], "---\n"...) }

// Bytes returns the dictionary; valid until the next Reset.
func (d *Dict) Bytes() []byte { return d.buf }

func (d *Dict) key(k string) {
	if len(d.buf) == 0 {
		d.Reset()
	}
	d.buf = append(d.buf, k...)
	d.buf = append(d.buf, ':', ' ')
}

// Uint adds an unsigned number.
func (d *Dict) Uint(k string, v uint64) {
	d.key(k)
	d.buf = strconv.AppendUint(d.buf, v, 10)
	d.buf = append(d.buf, '\n')
}

// Int adds a signed number.
func (d *Dict) Int(k string, v int64) {
	d.key(k)
	d.buf = strconv.AppendInt(d.buf, v, 10)
	d.buf = append(d.buf, '\n')
}

// Seconds adds a duration as whole seconds, truncated as beanstalkd's
// integer division does.
func (d *Dict) Seconds(k string, v time.Duration) { d.Int(k, int64(v/time.Second)) }

// Micros adds a duration as seconds with six decimals (rusage-utime).
func (d *Dict) Micros(k string, v time.Duration) {
	d.key(k)
	us := int64(v / time.Microsecond)
	d.buf = strconv.AppendInt(d.buf, us/1e6, 10)
	d.buf = append(d.buf, '.')
	frac := us % 1e6
	for p := int64(100000); p > 1 && frac < p; p /= 10 {
		d.buf = append(d.buf, '0')
	}
	d.buf = strconv.AppendInt(d.buf, frac, 10)
	d.buf = append(d.buf, '\n')
}

// Str adds a string as is (beanstalkd does not quote tube names or
// hostnames).
func (d *Dict) Str(k, v string) {
	d.key(k)
	d.buf = append(d.buf, v...)
	d.buf = append(d.buf, '\n')
}

// Quoted adds a string in double quotes (beanstalkd's version).
func (d *Dict) Quoted(k, v string) {
	d.key(k)
	d.buf = strconv.AppendQuote(d.buf, v)
	d.buf = append(d.buf, '\n')
}

// Bool adds true or false.
func (d *Dict) Bool(k string, v bool) {
	d.key(k)
	d.buf = strconv.AppendBool(d.buf, v)
	d.buf = append(d.buf, '\n')
}

// KeyValues returns the dictionary's lines as key and value, in order,
// with the quotes of Quoted values removed.
func (d *Dict) KeyValues() []KeyValue {
	var kvs []KeyValue
	rest := d.buf
	if len(rest) >= 4 && string(rest[:4]) == "---\n" {
		rest = rest[4:]
	}
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		k, v, _ := bytes.Cut(line, []byte(": "))
		kv := KeyValue{Key: string(k), Value: string(v)}
		if len(v) > 0 && v[0] == '"' {
			if u, err := strconv.Unquote(kv.Value); err == nil {
				kv.Value = u
			}
		}
		kvs = append(kvs, kv)
	}
	return kvs
}

// Add adds prepared lines.
func (d *Dict) Add(kvs ...KeyValue) {
	for _, kv := range kvs {
		d.Str(kv.Key, kv.Value)
	}
}

// AppendList appends the YAML list beanstalkd sends for list-tubes and
// list-tubes-watched: "---\n" then "- name\n" per name.
func AppendList(buf []byte, names []string) []byte {
	buf = append(buf, "---\n"...)
	for _, n := range names {
		buf = append(buf, '-', ' ')
		buf = append(buf, n...)
		buf = append(buf, '\n')
	}
	return buf
}
