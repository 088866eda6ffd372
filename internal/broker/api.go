package broker

// This file is the contract between the engine and its callers (the server,
// the admin API, tests): configuration, errors and the types the methods
// return. The methods are documented where they are defined (see doc.go).

import (
	"errors"
	"log/slog"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/retry"
)

// Errors returned by the engine. The server maps each to its wire reply.
var (
	ErrNotFound     = errors.New("broker: not found")     // NOT_FOUND
	ErrTimedOut     = errors.New("broker: timed out")     // TIMED_OUT
	ErrDeadlineSoon = errors.New("broker: deadline soon") // DEADLINE_SOON
	ErrNotIgnored   = errors.New("broker: not ignored")   // NOT_IGNORED
	ErrDraining     = errors.New("broker: draining")      // DRAINING
	ErrOutOfMemory  = errors.New("broker: out of memory") // OUT_OF_MEMORY (also: log cannot be written)
	ErrClosed       = errors.New("broker: closed")        // the broker or session is closed
)

// MaxTubeNameLen is the longest tube name beanstalkd accepts, in bytes.
const MaxTubeNameLen = 200

// DeadlineSafetyMargin is how long before a reserved job's TTR expires the
// engine starts answering DEADLINE_SOON, as beanstalkd does.
const DeadlineSafetyMargin = time.Second

// Config configures a Broker. The zero value of each field means its default.
type Config struct {
	// Clock drives delays, TTRs, pauses and reserve timeouts; default clock.Real().
	Clock clock.Clock
	// MaxJobSize is the largest body accepted, in bytes (reported in stats);
	// default 65535. The server enforces it while reading.
	MaxJobSize int
	// Journal, if set, is told of every change to every job (see
	// journal.Journal for what is recorded); nil keeps jobs in memory only.
	Journal journal.Journal
	// Logger receives the engine's few log lines (retention and
	// ready-expiry, policy give-ups that delete); default slog.Default().
	Logger *slog.Logger
	// Policies gives each tube's failure policy (see policy.Set for how a
	// tube's name picks one); nil: every tube behaves like beanstalkd.
	// Replace at run time with Broker.SetPolicies.
	Policies *policy.Set
	// Rand draws the jitter of retry delays; it is only used under the
	// engine's lock. Default: a generator seeded at random.
	Rand retry.Source
	// Observer, if set, is told how long jobs wait and run (the admin
	// interface's histograms); nil: no one.
	Observer Observer
}

// Observer is told of what the admin interface graphs and keeps per tube:
// how long jobs wait and run, their failures, and when a tube is created
// and dropped (so that what it keeps of a tube can outlive the tube).
// The engine asks it for a TubeObserver when it creates a tube and keeps
// that in the tube, so an event costs no lookup by name. Its methods, and
// those of its TubeObservers, are called with the engine's lock held:
// they must be quick and must not call the Broker.
type Observer interface {
	// Tube: the tube called name now exists ("default" is created in
	// New); its events go to the TubeObserver returned (not nil).
	Tube(name string) TubeObserver
}

// TubeObserver is told of the events of one tube, from its creation until
// it is dropped (and of a failure or a finished run that dropped it,
// right after Dropped).
type TubeObserver interface {
	// Reserved: a job of the tube was reserved, waited after it was put.
	Reserved(waited time.Duration)
	// Finished: a job of the tube that its worker had reserved for ran
	// was deleted (outcome "deleted") or failed ("failed") by that worker.
	Finished(outcome string, ran time.Duration)
	// Failed: a job failed (a fail, a TTR expiry on a tube with a retry
	// policy) or expired unreserved (ready-expiry), and its tube's policy
	// acted.
	Failed(f FailEvent)
	// Dropped: the engine dropped the tube at at (it had no job and no
	// session used or watched it).
	Dropped(at time.Time)
}

// FailEvent is a failure as TubeObserver.Failed is told of it.
type FailEvent struct {
	// Action is what the tube's policy did: FailRetry, or how it gave up.
	Action FailAction
	// DeadLetter is the tube the job went to (FailDeadLettered only).
	DeadLetter string
	// Expired: the job was not reserved within its tube's ready-expiry
	// window; not a failed attempt, Action is how the policy gave up.
	Expired bool
	// Error is the error text recorded in the job's failure history.
	Error string
	// At is when it happened.
	At time.Time
}

// ServerStats holds the engine's part of the `stats` reply. Per-command
// counters (cmd-*) are kept by the server; connection-level counts by both.
type ServerStats struct {
	CurrentJobsUrgent, CurrentJobsReady, CurrentJobsReserved int
	CurrentJobsDelayed, CurrentJobsBuried                    int
	JobTimeouts, TotalJobs                                   uint64
	CurrentTubes, CurrentConnections, CurrentProducers       int
	CurrentWorkers, CurrentWaiting                           int
	TotalConnections                                         uint64
	Draining                                                 bool
	// Uptime is how long the broker has run, by its clock.
	Uptime time.Duration
	// Failures counts failures (fail commands and TTR expiries on tubes
	// with a retry policy); GaveUp the jobs a policy gave up on; Expired
	// the jobs dropped by retention or ready-expiry (extension keys).
	Failures, GaveUp, Expired uint64
}

// TubeStats is the `stats-tube` reply for one tube.
type TubeStats struct {
	Name                                                     string
	CurrentJobsUrgent, CurrentJobsReady, CurrentJobsReserved int
	CurrentJobsDelayed, CurrentJobsBuried                    int
	TotalJobs                                                uint64
	CurrentUsing, CurrentWatching, CurrentWaiting            int
	CmdDelete, CmdPauseTube                                  uint64
	Pause, PauseTimeLeft                                     time.Duration
	// Failures counts failures of this tube's jobs, GaveUp the jobs its
	// policy gave up on, Expired its jobs dropped by retention or
	// ready-expiry; BuriedBytes is the body size of its buried jobs
	// (extension keys).
	Failures, GaveUp, Expired uint64
	BuriedBytes               int
	// Flow control (extension keys; see limits.go): the limits of the
	// tube's policy (LimitConcurrency 0, LimitRate "" and Unique "" when
	// off; LimitRate as "LIMIT/PER" such as "100/1m"), the reserves that
	// found a ready job held back by each limit, and the puts answered
	// with a live job's id.
	LimitConcurrency, LimitBurst  int
	LimitRate, Unique             string
	HeldByConcurrency, HeldByRate uint64
	Duplicates                    uint64
}

// JobStats is the `stats-job` reply for one job. File is the number of
// the log file holding the job, given by a Journal with a File(job.ID) int
// method (the durable log's segment), else 0 as beanstalkd without -b.
type JobStats struct {
	ID                                          job.ID
	Tube                                        string
	State                                       job.State
	Priority                                    uint32
	Age, Delay, TTR, TimeLeft                   time.Duration
	File                                        int
	Reserves, Timeouts, Releases, Buries, Kicks uint32
	// Size is the body length in bytes.
	Size int
	// Failure is the failure history (zero if the job never failed).
	Failure job.Failure
}

// Reserved is a job handed to a worker by a reserve command. Body is the
// job's own bytes, shared with the engine: read it, never change it. The
// other fields are the job's at the moment it was reserved (the claim
// extension sends them); the peek commands set only ID and Body.
type Reserved struct {
	ID   job.ID
	Body []byte
	Tube string
	// Priority and TTR are the job's.
	Priority uint32
	TTR      time.Duration
	// Failures is its failure count (stats-job's failures), and History
	// whether it has a failure history at all (it may have one with no
	// failures counted, after a kick that reset the count).
	Failures uint32
	History  bool
}

// reserved returns the Reserved of r.
func reserved(r *rec) Reserved {
	res := Reserved{ID: r.ID, Body: r.Body, Tube: r.Tube, Priority: r.Priority, TTR: r.TTR}
	if r.Failure != nil {
		res.Failures, res.History = r.Failure.Attempts, true
	}
	return res
}

// Peeked is a job returned by the peek commands.
type Peeked = Reserved
