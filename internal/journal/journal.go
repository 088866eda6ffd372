// Package journal is the contract between the engine (internal/broker),
// which reports every change of a job, and the durable log (internal/wal),
// which records it. Neither package imports the other; both import this one.
package journal

import "github.com/reprieve/reprieve/internal/job"

// Journal observes every change of a job, in the order the changes happen:
// the engine calls it while holding its lock, then waits on the returned
// Commit after releasing the lock and before answering the client. The
// durable log implements it.
//
// What is recorded: put, delete, release, bury, kick, fail (retry or
// give-up, with the failure history), reserve-job of a buried or delayed
// job, moves to a dead-letter tube, and deletions by retention, ready-expiry
// and flush. Not recorded, because a restart makes them moot: a plain
// reserve and touch (a reserved job comes back ready), a delayed job
// becoming ready (its deadline is in the record), a TTR expiry on a tube
// without a retry policy and a job returned to ready by a closing session.
// A job passed to Put or Update must not be retained or changed by the
// Journal after the call returns (copy what is needed); its Failure, if
// any, is never changed in place by the engine. Commits of changes no
// client waits for (retention expiries) may never be waited on.
type Journal interface {
	// Put records a new job with all its fields, body included. An error
	// means the job cannot be logged now (disk full): the put is refused
	// with broker.ErrOutOfMemory and nothing is kept.
	Put(j *job.Job) (Commit, error)
	// Update records a new state, priority, deadline, counters or failure
	// history of a job already put; the body is not written again.
	Update(j *job.Job) (Commit, error)
	// Delete records that a job is gone for good.
	Delete(id job.ID) (Commit, error)
}

// Commit is a journal write in flight.
type Commit interface {
	// Wait blocks until the write is as durable as the log's fsync policy
	// promises, and returns the error that prevented it, if any.
	Wait() error
}
