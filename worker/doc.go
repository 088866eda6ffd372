// Package worker runs handler functions on the jobs of a Reprieve (or
// beanstalkd) server: a handler is func(ctx, *Job) error, and what it
// returns decides what happens to the job, so a handler has no
// error-routing code of its own.
//
//	w, err := worker.New(worker.Config{Addrs: []string{"127.0.0.1:11300"}})
//	w.Handle("emails", send, worker.TubeOptions{Concurrency: 8})
//	err = w.Run(ctx) // until ctx ends, then a graceful shutdown
//
// # Outcomes
//
//   - nil: the job is deleted.
//   - an error: the job is failed with the error's text (the fail
//     command), and the tube's failure policy on the server decides: a
//     retry on its schedule, or a give-up (bury, dead-letter tube, delete).
//     The failure is recorded in the job's history.
//   - a panic: the same as an error whose text is "panic: " and the panic
//     value, followed by the top of the stack; the worker goes on.
//   - Permanent(err): the job is given up at once, whatever the schedule
//     (the give-up command: the policy's give-up action, with err's text in
//     the history).
//   - RetryAfter(err, d): the job is released with delay d. A release is
//     not a failure on Reprieve: the attempt number stays, and the schedule
//     does not advance.
//
// On a plain beanstalkd, which has neither fail nor give-up (the worker
// tells from the UNKNOWN_COMMAND its pool gets to claim, and from an
// UNKNOWN_COMMAND reply to fail), the worker
// keeps its own schedule: a failed job is released with
// Config.Backoff's delay for its attempt, and buried once it has had
// Config.MaxAttempts attempts; Permanent buries at once. The error text is
// logged, since beanstalkd has nowhere to keep it.
//
// # The job
//
// A Job carries the job's id, tube, body, server, priority and TTR, its
// attempt number and its failure history. On Reprieve they come with the
// job, in the reply of the claim command that reserves it; only the
// failure history of a job that has one (it failed, was given up or
// revived before) is read with one stats-job before the handler runs. On
// beanstalkd the worker reads stats-job for each job, and the history is
// empty.
//
// # Attempts
//
// Job.Attempt is 1 on the first try. On Reprieve it is the job's failure
// count plus one: the failures of its current series (stats-job's
// failures key: fail commands, Permanent give-ups, and TTR expiries on a
// tube with a retry policy; a kick may start a new series, see
// kick-resets-attempts). Releases (RetryAfter, graceful-shutdown
// releases), TTR expiries on a tube without a retry policy and reserves do
// not count. On beanstalkd it is the job's reserves count: every time a
// server handed the job out, this one included, so there a RetryAfter, a
// shutdown release and a TTR expiry each add one.
//
// # Time
//
// A job must be finished within its TTR. The handler's context is
// cancelled DeadlineMargin (1s) before the TTR runs out, counted from when
// the job was reserved (half the TTR for a TTR under 2s), so a handler that
// respects its context returns in time and its error is recorded. With
// TubeOptions.Heartbeat the worker instead touches the job every half of
// that while the handler runs, and the context is not cancelled for time.
// When a slot's reserve says DEADLINE_SOON (a job another slot runs is
// within DeadlineMargin of the end of its TTR), the slot touches the job
// if it has heartbeats (its heartbeat is late), and then waits until that
// job is finished or DeadlineMargin has passed before it reserves again.
//
// # Shutdown
//
// When Run's context ends, the worker stops reserving, lets running
// handlers finish for up to Config.ShutdownTimeout, then cancels their
// contexts and releases their jobs (with their priority and no delay), so
// that no job waits out its TTR; Run returns when every handler has
// returned. A job a server handed out that no handler had started is
// released too.
//
// # Concurrency
//
// The worker never runs more handlers of a tube at once than the tube's
// Concurrency, and on one server never holds more of its jobs reserved.
// Over several servers a waiting slot waits on each of them; if two hand
// out a job in the same moment, the second is released at once (its
// server counts a reserve and a release).
package worker
