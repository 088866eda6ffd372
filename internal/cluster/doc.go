// Package cluster is Reprieve's replicated log: the engine's journal kept
// in a NATS JetStream stream replicated to a majority of nodes, one fenced
// leader elected through a JetStream key-value lease, and followers that
// tail the stream to take over in seconds. It implements the journal
// contract the single-node log (package wal) implements; docs/cluster.md
// is the operator's view.
//
// # Names
//
// A cluster has a name C (letters, digits, '-' and '_'). Everything it
// keeps in NATS is named from C:
//
//	stream   REPRIEVE_C         the log
//	bucket   REPRIEVE_C_LEASE   the leader lease and node presence (KV)
//
// # The stream
//
// The stream REPRIEVE_C has subjects reprieve.C.> on file storage with
// R replicas (1, 3 or 5; every node must agree), keeps at most ONE message
// per subject (MaxMsgsPerSubject 1, discard old) and allows per-message
// TTLs and atomic batch publishes. Its subjects:
//
//	reprieve.C.job.<id>   one job, <id> in decimal
//	reprieve.C.term       the latest leader's fence
//	reprieve.C.ids        the id mark
//	reprieve.C.tick.<s>   a periodic job's last tick, <s> the schedule's
//	                      name in lower-case hexadecimal
//
// Because only the latest message of a subject is kept, the stream holds
// the live state, not a history: a job's put and every later change
// replace its one message, so storage is bounded by the live jobs (buried
// and delayed ones included) plus the deletes of the last ten minutes.
//
// # Messages
//
// Integers are unsigned varints (encoding/binary.AppendUvarint) unless
// said otherwise; durations are signed varints of nanoseconds; a time is a
// signed varint of Unix nanoseconds, 0 for the zero time; a string is a
// length (uvarint) followed by its bytes.
//
// A job message (reprieve.C.job.<id>) carries the whole job, body
// included, after every change (put, release, bury, kick, fail, a move to
// a dead-letter tube, reserve-job of a buried or delayed job):
//
//	version 1 byte (1)
//	job     id, tube, priority, delay, ttr, state (1 byte), created,
//	        deadline, reserves, timeouts, releases, buries, kicks,
//	        failure, body
//
// where failure is one byte 0 (no failure history) or 1 followed by
// attempts, first error, last error, first at, last at, retry from,
// origin, gave up, kicks, kicked at. This is the single-node log's put
// record without its framing and sequence number.
//
// A delete is a tombstone on the job's subject: an empty payload with the
// header Reprieve-Op: delete and a message TTL of ten minutes (Nats-TTL).
// The tombstone replaces the job's message at once (one per subject); when
// its TTL passes JetStream removes it and the subject is empty. Followers
// learn of the delete from the tombstone; a follower that could have
// missed a tombstone re-reads the stream (see Followers).
//
// A term message (reprieve.C.term) is written by a node when it becomes
// leader:
//
//	version 1 byte (1)
//	term    uvarint: the previous term + 1 (1 for the first leader)
//	node    string: the leader's node name
//	addr    string: the address its clients connect to
//	next    uvarint: the next job id to hand out
//
// An id mark (reprieve.C.ids) is version 1 then the next job id; the
// leader writes one within a second after a put raised the highest id
// (at most once a second), so that ids are never reused even
// after every job was deleted and its tombstone expired.
//
// A tick message (reprieve.C.tick.<s>) is written when the schedule s
// fires, just before the put of the job it fires:
//
//	version  1 byte (1)
//	schedule string: the schedule's name
//	at       time: the tick
//	id       uvarint: the id of the job the tick puts
//
// A new leader hands the engine the last tick of each schedule
// (broker.RestoreTicks), so a takeover neither repeats a tick nor forgets
// one: the ticks missed since follow the schedule's catch-up rule. The
// id counts as used even if the job's put was not stored.
//
// # Publishing and the fence
//
// The leader is the stream's only writer. Its publisher takes the changes
// the engine queued (in the engine's order) and writes them as JetStream
// atomic batches (Nats-Batch-Id, Nats-Batch-Sequence, Nats-Batch-Commit
// on the last; a single change is sent as a plain message), at most 500
// messages and about 1 MiB each. Up to four batches are in flight at
// once (the window). With none in flight, the queued changes are sent at
// once; with some, the next batch is sent once as many changes are
// queued as the last batch in flight holds (or none is in flight), so a
// busy leader sends batches of what one round trip gathers rather than
// many small ones, each of which costs JetStream about as much as a
// message (group commit). Batch i's first message carries two
// expectations:
//
//	Nats-Expected-Last-Sequence          P(i): where batch i-1 ends (for
//	                                     the first batch after the last
//	                                     acknowledged one, its end; at
//	                                     first the term message T)
//	Nats-Expected-Last-Subject-Sequence  T, with
//	Nats-Expected-Last-Subject-Sequence-Subject  F(i)
//
// where F(i) is one of four filters that match the term subject and no
// other subject of the stream, taken in turn at each send:
//
//	reprieve.C.term   reprieve.*.term   *.C.term   *.*.term
//
// JetStream stores the whole batch, at P(i)+1 … P(i)+n, only if both
// hold, or none of it. Its stream leader checks the last-sequence
// expectation against the sequence it has proposed, not the one it has
// applied, so a batch sent before the PubAck of the one before it is
// stored right after it. It refuses a subject expectation naming a
// filter that a message it has proposed but not yet applied also names,
// whatever the sequences; hence a filter per batch in flight (with one
// filter, nearly every pipelined batch was refused). A change is
// acknowledged to its client only after its batch's PubAck (JetStream's
// Raft group has it on a majority) and after every batch before it was
// acknowledged: batches are acknowledged strictly in order. A PubAck for
// batch i proves every batch before it stored (below).
//
// The term expectation is the fence: once another node's term message
// is stored, no batch of an older leader can be, whatever sequence it
// expects. (The last-sequence expectation alone is not a fence: an old
// leader's publish expecting exactly the new term message's sequence
// would be stored after it; with a window, a batch whose predecessor was
// refused expects just that.) The last-sequence expectation makes a
// resend safe and keeps the order: every send of batch i expects P(i),
// so batch i is stored at most once and only right after batch i-1.
// Hence the stream after T is always a prefix of the leader's batches,
// in order, whatever was sent, resent, lost or late.
//
// When the window's first unacknowledged batch has an unknown outcome —
// refused (no stream leader during a JetStream election, a stale
// expectation, an incomplete batch because the stream leader changed
// between its messages, a filter still in process) or unanswered within
// five seconds — it and every later batch in the window are resolved
// from the stream: the publisher reads the stream's last sequence L, then
// the term subject's last sequence S (retrying every 100 ms while
// JetStream cannot answer):
//
//   - S > T: another node has written a term message: this leader is
//     deposed and steps down; no batch of the window is acknowledged.
//   - L below the end of the last acknowledged batch, or S < T: a stream
//     leader that has not applied everything yet answered; read again
//     (for at most ten seconds, then step down: the stream lost what it
//     confirmed).
//   - L = the end of batch k of the window: batches up to k are stored
//     (their PubAcks were lost or not yet read): acknowledged, in order.
//     The later ones are not stored (yet): each is sent again, in order,
//     under a new batch id and reply subject, and resolved again if that
//     fails. An earlier send of one of them that lands late only makes
//     the resend refused (its expectation fails) and resolved as stored.
//   - anything else (L inside a batch, or past the window) cannot happen
//     with one writer whose batches are stored only in order: the leader
//     steps down.
//
// Because S is read after L and a term message is only ever replaced by
// a later one, S = T proves that every message stored after T up to L
// was written by this leader, hence is a prefix of its batches. A stale
// L at or above the last acknowledged end can only make the publisher
// resend a batch that is stored; that resend is refused (its
// last-sequence expectation fails) and resolved again. The leader thus
// rides out JetStream elections while it holds its lease; it steps down
// only when the fence shows another writer or its lease is lost (The
// lease); only then is a change refused, and its client gets no answer
// (the connection is dropped).
//
// # The lease
//
// The bucket REPRIEVE_C_LEASE (file storage, R replicas: a replica kept
// in memory would come back empty after a restart, and the bucket could
// then lose its majority when another node dies) keeps each value for
// the lease duration L (MaxAge; default 4 s) unless it is rewritten. Its
// keys:
//
//	leader        version, term (0), node, addr (as in a term message,
//	              without next), then holder: a string naming the
//	              node's process and its attempt to lead
//	node.<name>   the node's start time; one per running node
//
// A node on start creates node.<name> (Create fails if the key exists:
// another node has the same name; a key its own previous process left
// expires within a lease) and rewrites it every quarter lease. A
// follower tries Create on leader every L/4; it succeeds only once the
// key has expired or was deleted. The leader rewrites leader every L/4
// (the next renewal is due L/4 after the previous was sent) with Update
// at the revision it last wrote (compare-and-set), waiting at most L/2
// for each. The leader counts its lease as valid until the time it sent
// its last acknowledged Update plus 7/8 L; the key lives until L after
// the write was stored, later, so the leader stops answering at least
// L/8 before another node can take the lease. Past its validity
// (JetStream cannot take writes, or the process was frozen) its
// connections write nothing to their clients (a write closes the
// connection) until an Update at the same revision succeeds again,
// which proves no other node took the lease meanwhile.
//
// A refused Update deposes the leader unless the key still holds its own
// value: a renewal that timed out at the leader may have been stored all
// the same, later, changing the revision; only the leader writes its
// holder value, each write compare-and-set on the one before, so the
// leader takes the stored revision and goes on (without extending its
// validity). A key with another value, or none, makes it step down. The
// lease's timing runs on the node's clock (Config.Clock).
//
// # Becoming leader
//
// A follower whose Create on leader succeeded:
//
//  1. reads the stream's last sequence L and publishes its term message
//     expecting L (on refusal it reads L again: the old leader's last
//     in-flight publishes are landing); the term message's sequence T
//     fences the old leader out;
//  2. reads the stream up to T: every message stored before T, hence every
//     change the old leader acknowledged, is applied;
//  3. asks JetStream to move the stream's Raft leadership to its own NATS
//     server, if that server holds a replica and does not lead it, and
//     waits at most half a lease for the move (placement.go): its
//     publishes then enter Raft where they are made instead of crossing a
//     route to the stream leader and back (6–9 % less CPU per put on one
//     machine, docs/performance.md). Nothing depends on it: with nothing
//     of the leader's in flight, the move changes no data, and a refused
//     or slow one is ignored (leadership that JetStream moves later is
//     not followed);
//  4. restores the engine from what it read (reserved jobs come back
//     ready, as after a restart; delays, TTR deadlines, failure histories
//     and the id sequence are in the messages), then serves. Its next
//     publish expects T.
//
// # Followers
//
// A follower reads the stream from its start and keeps every job in
// memory (id → job), applying job messages and tombstones in stream
// order, the latest term and the highest id mark. It reads through a
// consumer as an ordered consumer does (ephemeral, in memory, one
// replica, no acknowledgements; a skipped delivery, a lost consumer or
// two missed heartbeats and it resumes with a new one after the last
// message it applied), placed on its own NATS server: JetStream puts a
// one-replica consumer on a replica it picks at random, so the follower
// deletes one placed elsewhere and asks again, up to 16 times (on an
// external NATS whose replicas are elsewhere it keeps the last one), and
// its deliveries do not cross a route. It counts itself caught up at the
// time it received a message with nothing pending after it. Any message it reads more than five minutes (half the
// tombstone TTL) after it was last caught up could follow a tombstone that
// expired unread, so the follower drops its state and reads the stream
// again from the start (it then sees the expired job's subject empty).
//
// A follower answers its clients by proxying each connection, bytes both
// ways, to the leader's addr (from the lease); when the leader changes, its
// proxied connections are closed and the clients reconnect.
package cluster
