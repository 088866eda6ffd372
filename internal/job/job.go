// Package job defines a job as the engine, the log and the wire see it.
// It is pure data: no locks, no I/O.
package job

import "time"

// ID identifies a job. IDs start at 1, grow by one per put and are never
// reused, also across restarts.
type ID uint64

// State is where a job is in its life.
type State uint8

// The states of a job, as named by beanstalkd's stats-job "state" key.
const (
	Ready State = iota + 1
	Delayed
	Reserved
	Buried
)

// String returns beanstalkd's name for the state.
func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Delayed:
		return "delayed"
	case Reserved:
		return "reserved"
	case Buried:
		return "buried"
	}
	return "invalid"
}

// Job is one job with everything needed to restore it after a restart.
// Times are absolute so that delays and TTRs survive restarts.
//
// The fields are ordered to keep the record small (the engine holds one per
// queued job); the failure history is a pointer because most jobs never
// fail.
type Job struct {
	ID   ID
	Tube string
	Body []byte
	// Delay is the delay given by the last put or release, for stats-job.
	Delay time.Duration
	TTR   time.Duration
	// Created is when the job was put.
	Created time.Time
	// Deadline depends on the state: when a Delayed job becomes ready, when
	// a Reserved job's TTR expires, when a Buried job was buried (its
	// retention age counts from there); zero for a Ready job.
	Deadline time.Time

	Priority                                    uint32
	Reserves, Timeouts, Releases, Buries, Kicks uint32
	State                                       State

	// Failure is the history of failures kept by failure policies; nil
	// until the job first fails.
	Failure *Failure
}

// Failure is the failure history that travels with a job: how often it
// failed, the first and last error, and where it came from.
type Failure struct {
	// Attempts counts the failures of the current series: since the job was
	// put, or since a kick that reset the count.
	Attempts   uint32
	FirstError string
	LastError  string
	FirstAt    time.Time
	LastAt     time.Time
	// RetryFrom is when the current series of attempts began (the first
	// failure, or the first failure after a kick that reset the count); a
	// retry schedule's give-up age counts from here.
	RetryFrom time.Time
	// Origin is the tube the job was first put in, kept when a job is
	// moved to a dead-letter tube.
	Origin string
	// GaveUp tells how the policy last gave up on the job ("" if it never
	// did): "buried", "dead-letter <tube>" or "deleted".
	GaveUp string
	// Kicks counts revivals by kick after a give-up.
	Kicks uint32
	// KickedAt is when the job was last revived by a kick.
	KickedAt time.Time
}
