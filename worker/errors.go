package worker

import (
	"errors"
	"fmt"
	"time"
)

// Permanent marks err as not worth retrying: the job is given up at once
// (see the package documentation). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// RetryAfter asks for the job to be released and tried again after d
// (whole seconds, rounded up), without counting a failure on Reprieve.
// err says why, for the log; RetryAfter(nil, d) is still a retry.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryAfterError{err: err, delay: d}
}

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("retry after %v: %v", e.delay, e.err)
}
func (e *retryAfterError) Unwrap() error { return e.err }

// ErrNoHandlers is Run's error for a worker with no tube to handle.
var ErrNoHandlers = errors.New("worker: no handlers registered")
