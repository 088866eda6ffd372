package beanstalk

import (
	"bytes"
	"fmt"
)

// Spec describes one command for the dispatch table.
type Spec struct {
	// Name is the command as written on the wire and in cmd-* stats.
	Name string
	// Prefix is what a line must start with to be this command: beanstalkd
	// matches commands by prefix, usually the name and a space ("put "),
	// the bare name for commands without arguments ("stats").
	Prefix string
	// Parse reads the arguments (the line after Prefix, without "\r\n")
	// into c. It returns ErrBadFormat for malformed arguments. Nil means
	// the command takes no arguments: anything after Prefix is
	// BAD_FORMAT.
	Parse func(args []byte, c *Command) error
	// Body means the command is followed by a body of Command.Size bytes
	// and "\r\n", read like put's (an extension: fail, kick-tube).
	Body bool
}

// dispatch is the table of commands (see table). It is filled when the
// package is initialized and only read afterwards, so it needs no lock.
type dispatch struct {
	specs []*Spec // matching order
	byOp  [MaxOps]*Spec
	ops   map[*Spec]Op
	// first indexes specs by the first byte of their prefix, in order.
	first [256][]entry
}

type entry struct {
	prefix []byte
	op     Op
	spec   *Spec
}

// add appends a command to d and returns its Op. It panics if d is full,
// if the name is taken, or if a line starting with the new prefix would
// already match an earlier command (an extension must not change what a
// beanstalkd command means).
func (d *dispatch) add(s Spec) Op {
	if s.Name == "" || s.Prefix == "" {
		panic("beanstalk: command table: empty name or prefix")
	}
	op := Op(len(d.specs) + 1)
	if int(op) >= MaxOps {
		panic("beanstalk: command table: too many commands")
	}
	for _, e := range d.specs {
		if e.Name == s.Name {
			panic(fmt.Sprintf("beanstalk: command table: command %q registered twice", s.Name))
		}
		if len(s.Prefix) >= len(e.Prefix) && s.Prefix[:len(e.Prefix)] == e.Prefix {
			panic(fmt.Sprintf("beanstalk: command table: prefix %q is already matched by command %q", s.Prefix, e.Name))
		}
	}
	sp := &s
	d.specs = append(d.specs, sp)
	d.byOp[op] = sp
	d.ops[sp] = op
	c := s.Prefix[0]
	d.first[c] = append(d.first[c], entry{prefix: []byte(s.Prefix), op: op, spec: sp})
	return op
}

// lookup returns the first command whose prefix starts line.
func (d *dispatch) lookup(line []byte) (Op, *Spec, []byte) {
	if len(line) == 0 {
		return OpNone, nil, nil
	}
	for _, e := range d.first[line[0]] {
		if bytes.HasPrefix(line, e.prefix) {
			return e.op, e.spec, line[len(e.prefix):]
		}
	}
	return OpNone, nil, nil
}

// hasBody reports whether op is an extension command with a body.
func (d *dispatch) hasBody(op Op) bool {
	return int(op) < len(d.byOp) && d.byOp[op] != nil && d.byOp[op].Body
}

// Commands returns the names of all registered commands in matching order.
func Commands() []string {
	names := make([]string, len(table.specs))
	for i, s := range table.specs {
		names[i] = s.Name
	}
	return names
}

// ParseCommand parses one command line (without its "\r\n") into c. It
// returns ErrUnknownCommand or ErrBadFormat, exactly where beanstalkd does.
// On ErrBadFormat, c.Op stays set if beanstalkd counts the command in its
// cmd-* statistics all the same (a put with trailing garbage, for one).
// A put's size is not checked against a limit here; see Reader.
func ParseCommand(line []byte, c *Command) error {
	c.reset()
	if bytes.IndexByte(line, 0) >= 0 {
		return ErrBadFormat
	}
	op, spec, args := table.lookup(line)
	if spec == nil {
		return ErrUnknownCommand
	}
	c.Op = op
	var err error
	if spec.Parse == nil {
		if len(args) != 0 {
			err = ErrBadFormat
		}
	} else {
		err = spec.Parse(args, c)
	}
	switch err {
	case nil:
		return nil
	case errCounted:
		return ErrBadFormat
	default:
		c.reset()
		return err
	}
}
