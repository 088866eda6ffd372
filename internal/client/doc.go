// Package client is the Go client for Reprieve and any beanstalkd 1.12
// server: one connection (Conn) and several servers at once (Pool).
//
// # One server
//
// Dial returns a Conn that speaks every beanstalkd command: Use, Put and
// PutIn; Watch, Ignore, Reserve, ReserveWithTimeout, ReserveJob; Delete,
// Release, Bury, Touch; Peek, PeekReady, PeekDelayed, PeekBuried; Kick,
// KickJob; Stats, StatsTube, StatsJob; ListTubes, ListTubeUsed,
// ListTubesWatched; PauseTube; Quit. A Conn is safe for concurrent use and
// pipelines the requests of several goroutines; a blocking reserve holds up
// what is sent after it, so each worker wants a Conn of its own.
//
// Durations (delay, TTR, reserve timeout, pause) travel in whole seconds
// and are rounded up, never down.
//
// Every method takes a context. A context that ends while its request is
// in flight closes the Conn (the protocol cannot abandon a request): the
// method returns the context's error, later calls an error wrapping
// ErrClosed, and the server returns the Conn's reserved jobs to ready.
//
// # Errors
//
// Each error reply of the protocol has a sentinel (ErrNotFound,
// ErrTimedOut, ErrDeadlineSoon, ErrBuried, ErrJobTooBig, ErrDraining,
// ErrOutOfMemory, ErrInternal, ErrBadFormat, ErrUnknownCommand,
// ErrExpectedCRLF, ErrNotIgnored), returned inside an *Error that carries
// the wire code, the server, the command and the job or tube concerned:
//
//	err := c.Delete(ctx, 42)
//	errors.Is(err, client.ErrNotFound) // true if the server said NOT_FOUND
//	err.Error() // "delete job 42 on 127.0.0.1:11300: client: not found"
//
// Transport failures wrap ErrClosed; tube names are checked before sending
// (ErrBadTubeName).
//
// # Several servers
//
// A Pool spreads puts round robin over the live servers of a list, skips a
// dead one at once and re-dials it in the background with backoff, re-sends
// to another server a put that got no answer within PutTimeout, bounds the
// puts in flight per server (MaxInFlight, ZeroMQ's high-water mark), and
// reserves from all servers at once, returning a Handle that remembers where
// its job lives. Delivery through a Pool is at least once: a put re-sent
// after a lost connection or a timeout may also have been stored by the
// first server. See Pool.
//
// # Extension commands
//
// Commands beyond beanstalkd's (Reprieve's fail, list, flush…) are methods
// written on Conn with Do, which sends one Request and returns the Reply
// (its code, arguments and data block), and ReplyError, which turns an
// unexpected reply into an *Error; new error codes go into wireErrors and
// replies with a data block into bodyReplies, from an init function in the
// extension's own file.
package client
