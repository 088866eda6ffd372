package worker

import (
	"context"
	"time"

	"github.com/reprieve/reprieve/client"
)

// Job is a reserved job as a Handler sees it.
type Job struct {
	// ID is the job's id on its server.
	ID uint64
	// Tube is the tube it was reserved from.
	Tube string
	// Body is its data.
	Body []byte
	// Attempt is 1 on the first try; see the package documentation for
	// what counts.
	Attempt int
	// History is its failure history so far: empty on beanstalkd; on
	// Reprieve, for a job that never failed, empty but for Origin (its
	// tube).
	History client.FailureHistory
	// Server is the address of the server that holds it.
	Server string
	// Priority and TTR are the job's, as the server reported them.
	Priority uint32
	TTR      time.Duration
}

// Handler processes one job. Its return value decides the job's fate (see
// the package documentation); it must return once ctx is cancelled.
type Handler func(ctx context.Context, j *Job) error

// Middleware wraps a Handler, for logging, metrics or tracing. Config's
// middlewares apply in order: the first is the outermost.
type Middleware func(Handler) Handler

// TubeOptions configure the handling of one tube.
type TubeOptions struct {
	// Concurrency is how many jobs of the tube are handled at once, and so
	// the most the worker holds reserved. Default 1.
	Concurrency int
	// Heartbeat keeps jobs alive while their handler runs: the worker
	// touches the job every half of its TTR less DeadlineMargin, and the
	// handler's context is not cancelled when the TTR would end.
	Heartbeat bool
}

// DeadlineMargin is how long before a job's TTR ends its handler's context
// is cancelled (without Heartbeat): beanstalkd's safety margin.
const DeadlineMargin = client.DeadlineMargin

// budget is how long a handler may run before its context is cancelled:
// the TTR less DeadlineMargin, at least half the TTR.
func budget(ttr time.Duration) time.Duration {
	return max(ttr-DeadlineMargin, ttr/2)
}
