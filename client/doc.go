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
// DialTLS connects over TLS (to `reprieve serve --tls-cert … --tls-key …`
// or a beanstalkd behind a TLS proxy); PoolConfig{Dial: TLSDialer(cfg)}
// makes a Pool do the same.
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
// its job lives.
//
// Reserve first asks each live server for a ready job, then waits on all
// of them at once with reserve-with-timeout in slices of ReserveSlice (1s),
// on connections it keeps: the protocol cannot cancel a reserve, so a wait
// that is no longer wanted is left to end with its slice rather than cut
// by closing its connection, and the next Reserve joins it. A worker that
// reserves again and again thus opens no connection after the first round.
// If two servers hand out a job in the same slice, the second is a spare:
// the next Reserve on the same tubes gets it at once, or the pool releases
// it with its own priority after SpareHold (at once if little of its TTR is
// left). Reserve returns a *DeadlineSoonError (ErrDeadlineSoon) when no job
// is at hand and a Handle of the pool has less than DeadlineMargin of its
// TTR left, as beanstalkd does for the jobs of a connection.
//
// On each reserving connection the pool reserves with Reprieve's claim
// command (Conn.Claim), whose reply also gives the job's tube, priority,
// TTR and failure count (Handle.Info); a server that answers
// UNKNOWN_COMMAND (beanstalkd) gets reserve-with-timeout on that
// connection from then on, and its Handles read their TTR with stats-job
// when the pool needs it.
//
// Delivery through a Pool is at least once, and precisely so. A put is
// re-sent to another server when its connection broke before the answer
// came, or when no answer came within PutTimeout. After a broken
// connection the first server may have stored the job and the pool cannot
// know: that copy stays. After a timeout the pool keeps the connection
// open for one more PutTimeout and reads the late answer: if the job was
// stored there and the re-sent put succeeded, it deletes the late copy
// (PoolStats.LateDeleted), so the job exists once. The late copy stays
// when the answer comes later than that (the pool has closed the
// connection), when a worker reserved it before the delete, or when the
// Put failed everywhere else (then it is the only copy, and the caller was
// told the Put failed; PoolStats.LateKept counts the last two). A put
// refused with DRAINING or OUT_OF_MEMORY was not stored and is re-sent
// without risk. PoolStats.Resends bounds the duplicates. On the reserving
// side every job a server hands out goes to one caller or back to its
// server, never to two callers; a job whose connection breaks while held
// goes back to its server's ready queue and may be reserved again, as with
// one beanstalkd connection. See Pool.
//
// # A cluster
//
// The nodes of one Reprieve cluster (docs/cluster.md) share one set of
// jobs, served by the leader; a follower proxies its connections to the
// leader. Given to a Pool as independent servers they would work, one hop
// longer, but a put re-sent to "another server" after a lost answer would
// go to the same cluster and could store the job twice. PoolConfig.Cluster
// says the addresses are one cluster's nodes. The pool then treats them as
// one server that lives at the leader: it asks a node for stats and
// connects to the address in cluster-leader-addr (the leader's
// advertised address; if that cannot be dialed, the node's own
// connection is kept and its proxy carries the traffic), so puts and
// reserves take no extra hop and reserves wait on one connection, not
// three. When the leader changes, its connections close (a follower
// closes those it proxied); the pool takes the cluster for dead, answers
// Put and Reserve with ErrNoServers meanwhile, and re-dials with backoff
// (RedialMin to RedialMax) until a node names the new leader. A put is
// sent at most once: a put whose connection broke, or that got no answer
// within PutTimeout, returns an error and is not re-sent (it was
// acknowledged to no one and may or may not be stored; at most once). So
// every put the pool acknowledged is in the cluster exactly once
// (PoolStats.Resends stays 0). JobRef.Addr and Handle.Addr name the
// cluster (its nodes, comma-separated); PoolStats.Leader is where the
// pool reached the leader.
//
// # Extension commands
//
// Commands beyond beanstalkd's (Reprieve's fail, give-up, list-jobs,
// kick-tube, flush-tube, claim) are methods written on Conn with Do, which sends one Request and returns the Reply
// (its code, arguments and data block), and ReplyError, which turns an
// unexpected reply into an *Error.
//
// For handler functions that the server retries, see the worker package.
package client
