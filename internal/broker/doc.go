// Package broker is Reprieve's job engine: tubes, their ready, delayed,
// reserved and buried jobs, reservations with their TTRs, pauses, timers,
// the per-tube failure policies (retry, give up, dead letters, retention,
// ready-expiry), flow control (concurrency and rate limits, unique jobs)
// and the periodic jobs of the policy file. It speaks no protocol and touches no disk: the
// server (internal/server) and the admin API (internal/admin) call it, and
// it tells a journal.Journal (the durable log, internal/wal) of every
// change.
//
// # Use
//
// New makes a Broker from a Config; Restore loads the jobs a log replayed
// before serving, and RestoreTicks the last tick of each schedule. Each client connection opens a Session (Broker.Open):
// the tube it uses, the tubes it watches, the jobs it has reserved; its
// methods are the beanstalk commands (Put, Reserve, Delete, Release, Bury,
// Touch, Kick, Fail, ...). The Broker's own methods are what needs no
// session: Stats, StatsTube, StatsJob, ListTubes, the Peek family, KickJob,
// PauseTube, ListJobs, KickBuried, Flush, SetDraining, SetPolicies,
// Schedules, Close.
// Each is documented where it is defined; errors are the Err* values of
// this package, each mapping to one wire reply.
//
// beanstalkd's rules hold unless a method says otherwise: a TTR of zero is
// raised to one second, a refused put (draining) still uses up an id, a
// reserved job whose TTR runs out becomes ready again (or, on a tube with
// a retry policy, fails). Every method that changes a job may return
// ErrOutOfMemory when the Journal refuses the change; the change is then
// undone (for Put: nothing is kept).
//
// # Time
//
// Delays, TTRs, pauses, reserve timeouts and retry schedules run on the
// injected clock (Config.Clock): one clock timer, armed for the earliest
// moment any tube or session needs looking at, so tests move time with
// clock.Fake and never sleep.
//
// # Locking
//
// One mutex, Broker.mu, protects all engine state (see Broker). The
// Journal is called with it held, so the log sees changes in the order
// they happen; the Commits are waited on after it is released, before the
// caller is answered. docs/locking.md places it in the lock order of the
// whole server.
//
// # Files
//
//	api.go       the contract: Config, errors, the stats and job types
//	broker.go    Broker, New, Close, the placement of jobs in heaps
//	session.go   Session: use, watch, put, delete, release, bury, touch, kick
//	reserve.go   Reserve and its waiting
//	timer.go     the one clock timer: delays, TTRs, pauses, timeouts
//	admin.go     stats, peeks, kick-job, pause, Restore
//	inspect.go   ListJobs, KickBuried, Flush
//	fail.go      Fail: the failure policy's decision applied to a job
//	policy.go, expiry.go          policies per tube, retention, ready-expiry
//	limits.go    concurrency and rate limits (held reserves, freed slots)
//	unique.go    unique jobs: dedupe keys and their index
//	schedule.go  periodic jobs: ticks, catch-up, drain
//	tube.go, heap.go, jobtable.go the data structures
package broker
