package client

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per error reply of the beanstalkd protocol. A method
// returns them wrapped in an *Error that names the server, the command and
// the job or tube concerned; test with errors.Is.
var (
	ErrNotFound       = errors.New("client: not found")         // NOT_FOUND
	ErrTimedOut       = errors.New("client: timed out")         // TIMED_OUT
	ErrDeadlineSoon   = errors.New("client: deadline soon")     // DEADLINE_SOON
	ErrBuried         = errors.New("client: buried")            // BURIED (put or release that could not grow the ready queue)
	ErrJobTooBig      = errors.New("client: job too big")       // JOB_TOO_BIG
	ErrDraining       = errors.New("client: server draining")   // DRAINING
	ErrOutOfMemory    = errors.New("client: out of memory")     // OUT_OF_MEMORY
	ErrInternal       = errors.New("client: internal error")    // INTERNAL_ERROR
	ErrBadFormat      = errors.New("client: bad format")        // BAD_FORMAT
	ErrUnknownCommand = errors.New("client: unknown command")   // UNKNOWN_COMMAND
	ErrExpectedCRLF   = errors.New("client: expected CRLF")     // EXPECTED_CRLF
	ErrNotIgnored     = errors.New("client: not ignored")       // NOT_IGNORED
	ErrUnexpected     = errors.New("client: unexpected reply")  // a reply the command does not allow
	ErrClosed         = errors.New("client: connection closed") // the Conn was closed, broken or interrupted
	ErrBadTubeName    = errors.New("client: bad tube name")     // refused before sending; see ValidTubeName
	ErrNoServers      = errors.New("client: no live server")    // every server of a Pool is down or refused the put
)

// wireErrors maps the error replies shared by all commands to their
// sentinels. Files adding extension commands may add their codes in init.
var wireErrors = map[string]error{
	"NOT_FOUND":       ErrNotFound,
	"TIMED_OUT":       ErrTimedOut,
	"DEADLINE_SOON":   ErrDeadlineSoon,
	"JOB_TOO_BIG":     ErrJobTooBig,
	"DRAINING":        ErrDraining,
	"OUT_OF_MEMORY":   ErrOutOfMemory,
	"INTERNAL_ERROR":  ErrInternal,
	"BAD_FORMAT":      ErrBadFormat,
	"UNKNOWN_COMMAND": ErrUnknownCommand,
	"EXPECTED_CRLF":   ErrExpectedCRLF,
	"NOT_IGNORED":     ErrNotIgnored,
}

// Error is a reply from the server that reports a failure, or a reply the
// command does not allow. It unwraps to the sentinel for its Code
// (ErrUnexpected for a code that is not an error reply).
type Error struct {
	Addr string // the server's address
	Op   string // the command, e.g. "delete"
	ID   uint64 // the job concerned (the new job's id for a put answered BURIED), 0 if none
	Tube string // the tube concerned, "" if none
	Code string // the reply's first word, e.g. "NOT_FOUND"
	Line string // the whole reply line, for unexpected replies
	Err  error  // the sentinel for Code
}

// Error reads like "delete job 42 on 127.0.0.1:11300: client: not found".
func (e *Error) Error() string {
	what := e.Op
	if e.ID != 0 {
		what += fmt.Sprintf(" job %d", e.ID)
	}
	if e.Tube != "" {
		what += fmt.Sprintf(" tube %q", e.Tube)
	}
	if errors.Is(e.Err, ErrUnexpected) {
		return fmt.Sprintf("%s on %s: %v %q", what, e.Addr, e.Err, e.Line)
	}
	return fmt.Sprintf("%s on %s: %v", what, e.Addr, e.Err)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// ReplyError turns a reply that is not the success of command op into an
// *Error naming this Conn's server, op, and the job id and tube concerned
// (zero values if none). Extension commands built on Do use it.
func (c *Conn) ReplyError(op string, id uint64, tube string, r Reply) error {
	sentinel, ok := wireErrors[r.Code]
	if !ok {
		sentinel = ErrUnexpected
	}
	return &Error{Addr: c.addr, Op: op, ID: id, Tube: tube, Code: r.Code, Line: r.Line, Err: sentinel}
}

// opError wraps a transport error (ErrClosed, a context error) with the
// command and server.
func (c *Conn) opError(op string, err error) error {
	return fmt.Errorf("%s on %s: %w", op, c.addr, err)
}
