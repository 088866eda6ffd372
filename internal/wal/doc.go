// Package wal is Reprieve's durable log: the write-ahead log that makes
// every acknowledged change to a job survive kill -9 and, under the
// "always" policy, power loss. It implements journal.Journal.
//
// # Directory
//
// A data directory holds:
//
//	LOCK                 flock(2)ed by the one server using the directory
//	hot/<seq>.wal        the hot log: every job that is not buried
//	buried/<seq>.wal     the buried store: buried jobs, apart from the hot log
//
// <seq> is the segment's sequence number, 16 lowercase hex digits; a
// store's segments are numbered 1, 2, 3… and never reuse a number. The
// highest-numbered segment of a store is its head, the only one appended
// to. A new segment is built as <seq>.wal.tmp, preallocated to its full
// size with fallocate(2), given its header, fsync'd, renamed into place
// and the directory fsync'd; leftover *.tmp files are removed at start.
//
// # Segment
//
// A segment starts with a 48-byte header, then records, then zeros up to
// the preallocated size:
//
//	offset size  field
//	 0     8     magic "RPRVWAL\n"
//	 8     2     format version, little endian (2)
//	10     1     store: 1 hot, 2 buried
//	11     5     zero
//	16     8     segment sequence number, little endian
//	24     8     the size the file was preallocated to, little endian
//	32     12    zero
//	44     4     CRC-32C (Castagnoli) of bytes 0..43, little endian
//
// Version 1 (written before the segment sequence was recorded) has zeros
// at 24..31 and is still read: a directory of version 1 segments opens,
// new segments are written as version 2, and the checks of "Segment
// sequence" start with the first head mark a version 2 log writes.
// Earlier versions of reprieve refuse version 2 segments by name.
//
// # Record framing
//
// Every record is framed as
//
//	length  uint32 little endian: the payload's length in bytes (> 0)
//	crc     uint32 little endian: CRC-32C (Castagnoli) of the payload
//	payload length bytes
//	padding zeros up to the next multiple of 8 bytes
//
// so records start at offsets that are multiples of 8. A length of zero
// marks the end of the segment's records (the preallocated zeros).
//
// # Payload
//
// Integers are unsigned varints (encoding/binary.AppendUvarint) unless
// said otherwise; durations are signed varints of nanoseconds; a time is a
// signed varint of Unix nanoseconds, 0 for the zero time; a string is a
// length (uvarint) followed by its bytes. Every payload starts with
//
//	type  1 byte
//	seq   uvarint: the record's sequence number, unique and increasing
//	      across both stores in the order the changes happened
//	id    uvarint: the job id (for a mark: the next job id)
//
// followed by, per type:
//
//	1 put     the whole job: tube, priority, delay, ttr, state (1 byte),
//	          created, deadline, reserves, timeouts, releases, buries,
//	          kicks, failure, body
//	2 update  tube, priority, delay, ttr, state (1 byte), deadline,
//	          reserves, timeouts, releases, buries, kicks, failure
//
// where failure is one byte 0 (no failure history) or 1 followed by
// attempts, first error, last error, first at, last at, retry from,
// origin, gave up, kicks, kicked at;
//
//	3 delete  the sequence number of the segment in this store that held
//	          the job's put record when it was deleted
//	4 gone    as delete: the job moved to the other store (bury, kick)
//	5 mark    id is a job id high-water mark: no job id below it is handed
//	          out again (see "Job ids"). A mark that is the first record of
//	          a segment (a head mark) also carries the store's other
//	          segments when it became the head: count, then count segment
//	          numbers, ascending; the count may be 0. A mark elsewhere
//	          carries nothing more.
//	6 drop    id 0, then the number of a segment of this store that
//	          compaction is about to remove
//	7 tick    schedule name (string), tick (time): the periodic job named
//	          fired that tick; id is the job it puts, whose put record
//	          follows. Written to the hot log only.
//
// # Replay
//
// Replay reads every segment of each store and keeps, per job id and
// store, the put, the update and the delete/gone with the highest seq. A
// job is live-looking in a store when it has a put there and the highest
// seq among that put and update (its last seq) is above the store's
// delete/gone. The job is live in the store where it looks live with the
// highest last seq, unless a delete in either store has a higher seq
// still; its fields are the put's, overlaid by the update's when the
// update is newer. Replay depends on seq, not on the order of records in
// files, which is what lets compaction copy records verbatim into the
// head. A store where the job looks live but does not live (a crash
// between the two halves of a move) gets a gone (or delete) record at
// start. The next job id is the highest of every mark's id and every
// put's and update's id + 1, so ids are never reused even when every job
// has been deleted (a tick's id counts too). For each schedule name the
// tick record with the highest seq is the schedule's last tick
// (Recovery.Ticks).
//
// # Job ids
//
// A put whose id comes within 8192 of the high-water mark is preceded, in
// the same write, by a mark 16384 above its id. Under "always" the mark
// is fsync'd with the put; under "interval" a write that carries an id at
// or above the last fsync'd high-water mark is fsync'd before its commits
// complete (at most once per 8192 ids, and only when the ids outrun the
// interval fsync); under "never" it is not. Open writes and fsyncs a mark
// 16384 above the next id before anything else, into the buried store's
// head (rarely dirty after a crash, so the fsync is quick) or, when it
// has no room, the hot log's. So a
// torn tail, which may take acknowledged puts with it under "interval" or
// "never", never brings an id back: the next start hands out ids from a
// mark above every id used before it. Each start thus skips up to 16384
// ids.
//
// # Segment sequence
//
// Every segment that becomes a head starts with a head mark listing the
// store's other segments at that moment, but for those whose drop record
// is already placed. Compaction places a segment's drop record after its
// copies, and removes the file only once both are fsync'd. At start, the
// newest head mark (the first record of the active segment, or of the
// segment before it when that record is torn) and the drop records after
// it give the segments that must be there: each listed and not dropped.
// One that is missing stops the start (ErrCorrupt naming it). One that is
// there but dropped, or older than the mark and not listed, is what a
// crash between a drop record and the file's removal leaves: it is
// removed. Segments after the active one hold only their header: they are
// spares. Version 1 logs have no head marks until their first rotation
// under version 2; until then a missing segment cannot be noticed.
//
// # Moves between stores
//
// Burying a job writes a put record with the whole job into the buried
// store; the gone record for the hot log is written only after that put is
// on disk (in the next write batch), so a crash leaves the job in one store
// or both, never in neither. Kicking moves it back the same way. When the
// buried store cannot take the job (no space), it stays in the hot log.
//
// # Integrity
//
// The active segment of a store is the last one holding any record; the
// ones before it are sealed. A segment is fsync'd, under every policy,
// before its successor is written to, so a sealed segment is complete on
// disk and only the active one can have a torn tail.
//
// On start, the first record whose frame is wrong (length past the end,
// checksum mismatch, undecodable payload, or a zero length followed by
// non-zero bytes) ends the readable part of a segment. In the active
// segment, if no valid record follows it anywhere in the segment, it is a
// torn tail: the bytes are zeroed, the fact is logged (slog, level WARN,
// with the number of records dropped and the job ids their remains
// show) and start continues. Anywhere else it is damage: Open fails with
// ErrCorrupt naming the file and offset. So does a sealed segment whose
// file is shorter than its header says, or that holds no record, and a
// missing segment (see "Segment sequence"). `reprieve repair --data DIR`
// rewrites damaged segments with every readable record, moves away
// sealed segments with none, records missing ones as dropped, and reports
// what it dropped with the job ids readable in it (a copy of each damaged
// file is kept).
//
// # Compaction
//
// Each segment's bytes are either live (the put record of a job living in
// the store, and the job's latest update) or dead. After a write that
// leaves work to do, the writer goroutine compacts at most one sealed (non-head) segment of a store:
//
//   - a segment with no live bytes, or
//   - when the sealed segments of the store add up to more than twice the
//     store's live bytes, the sealed segment with the lowest share of live
//     bytes.
//
// Compacting copies the segment's live records, the delete/gone records
// whose put segment still exists, and the last tick record of each
// schedule (not counted as live bytes: a few per schedule) verbatim into
// the head, places the segment's drop record, fsyncs the head, then
// removes the segment and fsyncs the directory. The server
// keeps serving meanwhile: copying takes the log's lock a few hundred
// records at a time. Disk use is thus bounded by about three times the
// live bytes plus one segment (the head). Once a store's head is half
// full the writer preallocates a spare segment for it, but only while the
// spare, counted with every other file, keeps the data directory within
// that bound; otherwise the append that fills the head creates the next
// segment itself.
//
// # Durability policies
//
// Appends encode the record into memory and return. The first caller of
// Commit.Wait whose batch is not yet written becomes the writer: it writes
// every record appended so far with one pwrite per segment, while the
// commits appended meanwhile wait for it and are written together by the
// next one (group commit). A writer goroutine writes records nobody waits
// for within 2 ms, runs the interval fsync, keeps a spare segment ready and
// compacts. After the write:
//
//   - always: fsyncs, then completes the batch's commits (Wait returns);
//   - interval: completes the commits after the write (a kill -9 loses
//     nothing acknowledged; power loss may lose the last interval) and
//     fsyncs at most once per interval. That fsync is the writer
//     goroutine's: it notes which segments have unsynced writes while
//     holding the right to write, then fsyncs them after letting go of
//     it, so no commit waits for an interval fsync (only a write that
//     starts a new segment first fsyncs the segment before it, once per
//     segment, under every policy);
//   - never: completes the commits after the write; never fsyncs records.
//
// # Full disk
//
// Writes inside a preallocated segment cannot fail for lack of space;
// only creating a segment can. The log plans its room so that a full
// disk never locks it. Every live job of a store owes the room of its
// delete or gone record (40 bytes), as beanstalkd reserves a delete
// record's room at put. The room left in a store's head and spares after
// a record must be at least:
//
//	delete, gone  nothing: they use the room their job owed
//	compaction's copies, drop records, marks
//	              the owed room (40 bytes per live job, plus a head mark
//	              and a tombstone of slack)
//	update, and the put that moves a job between stores
//	              the owed room plus the compaction room: the live and
//	              tombstone bytes of the cheapest sealed segment, plus the
//	              largest record the store has held
//	put           as update, plus the put's own tombstone
//
// When the head's rest falls short, the record starts a new head; when
// one segment is not enough, spares are created until the room is there.
// When no segment can be created, a put is refused (ErrNoSpace, which the
// engine answers OUT_OF_MEMORY; nothing of it is written), an update or
// move too once the compaction room is all that is left, and a delete
// never. Compaction may use the compaction room; while puts are refused
// it also compacts a sealed segment at least an eighth dead, once its
// copies fit. The segment it frees becomes a spare at once, so puts come
// back as soon as compaction has freed a segment. The writer retries
// creating a segment whenever it has work, so puts also resume when
// space returns from elsewhere. A start needs no new space: a spare or
// the head's own room takes the marks and tombstones it writes (a head
// cut short is preallocated again, which a full disk refuses with a
// message naming the file).
package wal
