package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Log is an open data directory: the hot log, the buried store and the
// writer goroutine that writes, fsyncs and compacts them. It implements
// journal.Journal. Put, Update and Delete are safe for concurrent use and
// never block on the disk; Wait on their Commit does.
type Log struct {
	opts   Options
	fs     fileSystem
	logger *slog.Logger
	clock  clock.Clock
	lock   *os.File

	mu sync.Mutex // protects the fields below up to the blank line, and the segments' placement fields
	// stores are the hot log and the buried store, indexed by storeKind.
	stores [2]*store
	// index locates the records of every live job.
	index jobIndex
	// seq is the last record sequence number handed out.
	seq uint64
	// nextID is the next job id to be handed out, as far as the log knows.
	nextID job.ID
	// hw is the id high-water mark last placed: ids below it may be in
	// use; durableHW is the highest one known to be fsync'd.
	hw, durableHW job.ID
	// cur collects the appends that the next write will carry.
	cur *batch
	// pend holds the records placed since the last write, in order.
	// spare is its other buffer: the chunks last written, whose record
	// buffers queue reuses, so that a batch allocates no buffer once the
	// log is warm (see flush).
	pend, spare []chunk
	// deferred holds gone records to place once the batch that moved their
	// job is durable (see doc.go, "Moves between stores").
	deferred []tomb
	// failed is the I/O error that stopped the log, if any.
	failed error
	// closed is set by Close.
	closed bool
	// scratch is reused to encode records.
	scratch []byte
	// idleArmed tells whether the idle timer is pending (see queue).
	idleArmed bool
	// tubes interns tube names during replay.
	tubes map[string]string
	// ticks holds the latest tick record of each schedule (tick.go).
	ticks map[string]tickRec

	// wtok is held (a value sent into it) by whoever writes (see
	// writer.go); it protects the fields below up to the blank line, and
	// the segments' written and dirty fields. It is a one-slot channel
	// rather than a mutex so that a committer can wait for its batch to
	// be written or for the right to write it, whichever comes first.
	wtok chan struct{}
	// lastWritten is the segment last written in each store.
	lastWritten [2]*segment
	// dirty is syncDirty's list of segments to fsync.
	dirty []syncTarget
	// writtenHW is the id high-water mark of the records written so far.
	writtenHW job.ID
	// lastSync is when the interval policy last fsync'd; timerArmed tells
	// whether its timer is pending.
	lastSync   time.Time
	timerArmed bool

	kick    chan struct{}   // wakes the writer; capacity 1
	idle    *time.Timer     // kicks the writer when records wait unwritten
	syncDue chan struct{}   // the interval timer fired; capacity 1
	syncReq chan chan error // Sync's requests
	quit    chan struct{}   // closed by Close
	done    chan struct{}   // closed when the writer has returned

	fsyncs, batches, compactions, compactedBytes, records, migrated atomic.Uint64
}

// store is the hot log or the buried store. Its fields are guarded by
// Log.mu.
type store struct {
	kind    storeKind
	dir     string
	segSize int64
	// segs are the store's segments in order; the last is the head.
	segs  []*segment
	byNum map[uint64]*segment
	// spares are preallocated segments ready to become the head, in
	// order: one kept ahead of need (see spareDue), and as many as the
	// room owed to tombstones and compaction asks for (see space.go).
	spares []*segment
	// nextNum is the number the next new segment gets.
	nextNum uint64
	// live is the sum of the segments' live bytes.
	live int64
	// noSpace is set while puts are refused for lack of space.
	noSpace bool
	// jobs counts the store's live jobs and the gone records it still
	// owes (see space.go); maxRec is the largest record it has held.
	jobs, maxRec int64
}

func (s *store) head() *segment { return s.segs[len(s.segs)-1] }

// loc is where a record is: segment number, offset and framed length.
type loc struct {
	seg uint64
	off uint32
	n   uint32
}

// entry locates a live job's put record and latest record in its store.
type entry struct {
	st        storeKind
	held      bool // the entry is in use (jobIndex)
	put, last loc
}

// chunk is a run of placed records not yet written to a segment.
type chunk struct {
	st  storeKind
	seg *segment
	off int64
	buf []byte
}

// tomb is a gone record waiting to be placed.
type tomb struct {
	st     storeKind
	seq    uint64
	id     job.ID
	putSeg uint64
}

// batch is a group of appends written (and fsync'd) together; it is the
// journal.Commit the appends return.
type batch struct {
	l    *Log
	done chan struct{}
	err  error // set before done is closed
	// handed is set (under Log.mu) once an append returned the batch.
	handed bool
	// syncHW is set (under Log.mu) when the batch carries a job id at or
	// above the durable high-water mark: it is fsync'd before completing.
	syncHW bool
}

func newBatch(l *Log) *batch { return &batch{l: l, done: make(chan struct{})} }

// Wait blocks until the batch is as durable as the fsync policy promises
// (see doc.go) and returns the error that prevented it. The first caller
// to find it unwritten writes it, with everything else pending.
func (b *batch) Wait() error {
	select {
	case <-b.done:
	default:
		b.l.lead(b)
		<-b.done
	}
	return b.err
}

var _ journal.Journal = (*Log)(nil)

// commit returns the batch the caller's change belongs to. l.mu is held.
func (l *Log) commit() *batch {
	l.cur.handed = true
	return l.cur
}

// usable returns why appends are refused now, or nil. l.mu is held.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// Put logs a new job with all its fields. It returns ErrNoSpace when no
// room is left for it; nothing is then written.
func (l *Log) Put(j *job.Job) (journal.Commit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if err := l.putLocked(hot, j, forPut); err != nil {
		return nil, err
	}
	return l.commit(), nil
}

// Update logs a job's new state, priority, deadline, counters or failure
// history. Burying moves the job to the buried store and kicking moves it
// back; both write the whole job there.
func (l *Log) Update(j *job.Job) (journal.Commit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	e, ok := l.index.get(j.ID)
	want := hot
	if j.State == job.Buried {
		want = buried
	}
	switch {
	case !ok:
		// Not logged yet (logged while the log was off): log it whole.
		if err := l.putLocked(want, j, forPut); err != nil {
			return nil, err
		}
	case e.st == want:
		if err := l.updateLocked(e, j); err != nil {
			return nil, err
		}
	default:
		if err := l.putLocked(want, j, forUpdate); err != nil {
			if want != buried {
				return nil, err
			}
			// No room in the buried store: the job stays in the hot log.
			if err := l.updateLocked(e, j); err != nil {
				return nil, err
			}
			return l.commit(), nil
		}
		l.seq++
		l.deferred = append(l.deferred, tomb{st: e.st, seq: l.seq, id: j.ID, putSeg: e.put.seg})
	}
	return l.commit(), nil
}

// Delete logs that a job is gone for good.
func (l *Log) Delete(id job.ID) (journal.Commit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	e, ok := l.index.get(id)
	if !ok {
		return l.commit(), nil
	}
	l.seq++
	l.scratch = appendTomb(l.scratch[:0], recDelete, l.seq, id, e.put.seg)
	if _, err := l.placeTomb(e.st, l.scratch); err != nil {
		return nil, err
	}
	l.unlive(e)
	l.index.remove(id)
	return l.commit(), nil
}

// placeTomb places a delete or gone record in store k out of the room
// the job owed, which it no longer owes.
func (l *Log) placeTomb(k storeKind, rec []byte) (loc, error) {
	st := l.stores[k]
	lc, err := l.place(st, rec, forTomb)
	if err != nil {
		return loc{}, err
	}
	st.byNum[lc.seg].tombs += int64(lc.n)
	st.jobs--
	return lc, nil
}

// idStep is how far ahead of the ids in use the log's high-water mark of
// job ids runs; a new mark is written when half of it is used.
const idStep = 1 << 14

// File returns the number of the segment that holds job id's put record
// in the job's store (hot, or buried for a buried job), 0 when the log
// holds no such job: stats-job's "file".
func (l *Log) File(id job.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, _ := l.index.get(id)
	return int(e.put.seg)
}

// markID is the id a mark carries: no job id below it may be handed out
// again. l.mu is held.
func (l *Log) markID() job.ID { return max(l.nextID, l.hw) }

// putLocked writes j whole into store k and makes it the job's location.
// When j's id comes within half a step of the id high-water mark, a new
// mark a step ahead goes in front of it (see doc.go, "Job ids"); the
// batch is then fsync'd before it completes unless the policy is never.
func (l *Log) putLocked(k storeKind, j *job.Job, kind placeKind) error {
	l.scratch = l.scratch[:0]
	hw, markLen := l.hw, 0
	if j.ID+idStep/2 >= l.hw {
		hw = j.ID + idStep
		l.seq++
		l.scratch = appendMark(l.scratch, l.seq, max(hw, l.nextID))
		markLen = len(l.scratch)
	}
	l.seq++
	l.scratch = appendPut(l.scratch, l.seq, j)
	st := l.stores[k]
	lc, err := l.place(st, l.scratch, kind)
	if err != nil {
		return err
	}
	lc.off += uint32(markLen)
	lc.n -= uint32(markLen)
	l.hw = hw
	if j.ID >= l.durableHW && l.opts.Fsync != FsyncNever {
		l.cur.syncHW = true
	}
	old, ok := l.index.get(j.ID)
	if ok {
		l.unlive(old)
	}
	if !ok || old.st != k {
		// A job moving stores is owed in both until its gone record
		// is placed.
		st.jobs++
	}
	st.maxRec = max(st.maxRec, int64(lc.n))
	l.index.set(j.ID, entry{st: k, put: lc, last: lc})
	l.addLive(k, lc)
	if j.ID >= l.nextID {
		l.nextID = j.ID + 1
	}
	return nil
}

// updateLocked writes an update record of j where the job lives.
func (l *Log) updateLocked(e entry, j *job.Job) error {
	l.seq++
	l.scratch = appendUpdate(l.scratch[:0], l.seq, j)
	st := l.stores[e.st]
	lc, err := l.place(st, l.scratch, forUpdate)
	if err != nil {
		return err
	}
	st.maxRec = max(st.maxRec, int64(lc.n))
	if e.last != e.put {
		l.subLive(e.st, e.last)
	}
	e.last = lc
	l.index.set(j.ID, e)
	l.addLive(e.st, lc)
	return nil
}

func (l *Log) addLive(k storeKind, lc loc) {
	st := l.stores[k]
	st.byNum[lc.seg].live += int64(lc.n)
	st.live += int64(lc.n)
}

func (l *Log) subLive(k storeKind, lc loc) {
	st := l.stores[k]
	if s := st.byNum[lc.seg]; s != nil {
		s.live -= int64(lc.n)
	}
	st.live -= int64(lc.n)
}

// unlive marks a job's records dead.
func (l *Log) unlive(e entry) {
	l.subLive(e.st, e.put)
	if e.last != e.put {
		l.subLive(e.st, e.last)
	}
}

// place assigns rec (a framed record) a position in st's head, rotating
// to a new segment when it does not fit or when the kind's room (see
// space.go) asks for it, and queues it for the writer. l.mu is held.
func (l *Log) place(st *store, rec []byte, k placeKind) (loc, error) {
	n := int64(len(rec))
	if segmentHeaderSize+int64(padded(40))+n > st.segSize-st.segSize/8 {
		return loc{}, fmt.Errorf("%w: %d bytes, segment size %d", ErrTooLarge, n, st.segSize)
	}
	if err := l.fit(st, n, k); err != nil {
		if k == forPut && errors.Is(err, ErrNoSpace) {
			l.setNoSpace(st, true, err)
		}
		return loc{}, err
	}
	if k == forPut {
		l.setNoSpace(st, false, nil)
	}
	head := st.head()
	off := head.used
	head.used += n
	l.queue(st.kind, head, off, rec)
	l.records.Add(1)
	return loc{seg: head.num, off: uint32(off), n: uint32(n)}, nil
}

// queue appends rec to the pending writes and wakes the writer.
func (l *Log) queue(k storeKind, s *segment, off int64, rec []byte) {
	if len(l.pend) == 0 && !l.idleArmed {
		// Usually a committer writes the batch at once (see writer.go);
		// records nobody waits for are written by the writer goroutine
		// when this timer fires. It is armed once, not pushed back by
		// every batch: resetting a timer wakes an idle thread of the
		// runtime to look at the new deadline, one wake-up per put.
		l.idleArmed = true
		l.idle.Reset(idleFlush)
	}
	if i := len(l.pend) - 1; i >= 0 && l.pend[i].seg == s && l.pend[i].off+int64(len(l.pend[i].buf)) == off {
		l.pend[i].buf = append(l.pend[i].buf, rec...)
	} else {
		var buf []byte
		if n := len(l.pend); n < cap(l.pend) {
			buf = l.pend[:n+1][n].buf[:0] // a buffer written before
		}
		l.pend = append(l.pend, chunk{st: k, seg: s, off: off, buf: append(buf, rec...)})
	}
}

// maxKeptBuffer is the largest record buffer flush keeps for reuse: big
// bodies are rare, and their buffers are returned to the collector.
const maxKeptBuffer = 64 << 10

// idleFlush is how long records nobody waits for stay in memory at most.
const idleFlush = 2 * time.Millisecond

// idleFired is the idle timer's function: it wakes the writer if records
// still wait unwritten, and lets the next queued record arm the timer
// again.
func (l *Log) idleFired() {
	l.mu.Lock()
	l.idleArmed = false
	pending := len(l.pend) > 0 || len(l.deferred) > 0
	l.mu.Unlock()
	if pending {
		l.wake()
	}
}

// rotate makes a new segment st's head, writing a head mark as its first
// record. l.mu is held.
func (l *Log) rotate(st *store) error {
	if len(st.spares) == 0 {
		if err := l.allocate(st); err != nil {
			return err
		}
	}
	s := st.spares[0]
	st.spares = st.spares[1:]
	st.segs = append(st.segs, s)
	st.byNum[s.num] = s
	l.headMark(st)
	return nil
}

// headMark places the first record of st's empty head: a mark with the
// id high-water mark and the store's other segments, but for those whose
// drop record is placed (see doc.go, "Segment sequence"). l.mu is held.
func (l *Log) headMark(st *store) {
	s := st.head()
	var nums []uint64
	for _, g := range st.segs[:len(st.segs)-1] {
		if !g.dropping {
			nums = append(nums, g.num)
		}
	}
	l.seq++
	m := appendHeadMark(nil, l.seq, l.markID(), nums)
	off := s.used
	s.used += int64(len(m))
	l.queue(st.kind, s, off, m)
}

// allocate creates a spare segment for st. l.mu is held: creating a segment
// takes a few milliseconds once per segment.
func (l *Log) allocate(st *store) error {
	s, err := createSegment(l.fs, st.dir, st.kind, st.nextNum, st.segSize)
	if err != nil {
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %v", ErrNoSpace, err)
			l.setNoSpace(st, true, err)
			return err
		}
		return err
	}
	l.setNoSpace(st, false, nil)
	st.nextNum++
	st.spares = append(st.spares, s)
	return nil
}

// Sync writes and fsyncs everything appended so far, whatever the policy,
// and returns once the writer has also finished the compaction that was
// due. It returns the error that stopped the log, if any.
func (l *Log) Sync() error {
	reply := make(chan error, 1)
	select {
	case l.syncReq <- reply:
		return <-reply
	case <-l.done:
		return ErrClosed
	}
}

// Close writes and fsyncs everything appended, stops the writer, closes
// the files and releases the data directory. Appends after Close return
// ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	l.idle.Stop()
	var errs []error
	l.mu.Lock()
	errs = append(errs, l.failed)
	for _, st := range l.stores {
		for _, s := range append(st.segs, st.spares...) {
			if s != nil {
				errs = append(errs, s.f.Close())
			}
		}
	}
	l.mu.Unlock()
	errs = append(errs, unlockDir(l.lock))
	return errors.Join(errs...)
}
