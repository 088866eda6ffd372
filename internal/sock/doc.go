// Package sock reads and writes a non-blocking socket by its descriptor,
// for the event loops that serve (internal/server) and drive
// (internal/bench) many connections from one locked OS thread.
//
// Read and Write are raw system calls: a read or write of a non-blocking
// socket never waits, so they skip the runtime's bookkeeping for a system
// call that may block (entersyscall and exitsyscall, which syscall.Read
// and syscall.Write do); EpollPoll looks for ready events the same way
// before a loop waits, which under load often finds some and also halves
// the runtime's sysmon wake-ups (together 4–5 % of the server's CPU per
// put: docs/performance.md, "CPU per put"). Dup takes a TCP connection's
// socket off the runtime's poller. The package is Linux only.
package sock
