package main

import (
	"errors"
	"fmt"
	"strings"
)

// exitPartial is the exit status of a command over several servers that
// some answered and some did not: its output holds the servers that
// answered, and standard error names each one that failed.
const exitPartial = 3

// partialError is the error of a command over several servers of which at
// least one succeeded and at least one failed.
type partialError struct {
	total  int     // servers asked
	failed []error // one per server that failed, naming it
}

func (e *partialError) Error() string {
	msgs := make([]string, len(e.failed))
	for i, err := range e.failed {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%d of %d servers failed (the output shows the others): %s", len(e.failed), e.total, strings.Join(msgs, "; "))
}

func (e *partialError) Unwrap() []error { return e.failed }

// partial returns nil for no failures, a partialError if some of total
// servers succeeded, and the failures joined if none did.
func partial(total int, failed []error) error {
	switch len(failed) {
	case 0:
		return nil
	case total:
		return errors.Join(failed...)
	}
	return &partialError{total: total, failed: failed}
}

func isPartial(err error) bool {
	var p *partialError
	return errors.As(err, &p)
}

// printed returns the error of printing a command's output if there was
// one, else failed: the servers that failed, once the others are printed.
func printed(printErr, failed error) error {
	if printErr != nil {
		return printErr
	}
	return failed
}
