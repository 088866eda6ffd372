package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
)

// Log is an open data directory: the hot log, the buried store and the
// writer goroutine that writes, fsyncs and compacts them. It implements
// broker.Journal. Put, Update and Delete are safe for concurrent use and
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
	// cur collects the appends that the next write will carry.
	cur *batch
	// pend holds the records placed since the last write, in order.
	pend []chunk
	// deferred holds gone records to place once the batch that moved their
	// job is durable (see doc.go, "Moves between stores").
	deferred []tomb
	// failed is the I/O error that stopped the log, if any.
	failed error
	// closed is set by Close.
	closed bool
	// scratch is reused to encode records.
	scratch []byte
	// tubes interns tube names during replay.
	tubes map[string]string

	// wtok is held (a value sent into it) by whoever writes (see
	// writer.go); it protects the fields below up to the blank line, and
	// the segments' written and dirty fields. It is a one-slot channel
	// rather than a mutex so that a committer can wait for its batch to
	// be written or for the right to write it, whichever comes first.
	wtok chan struct{}
	// lastWritten is the segment last written in each store.
	lastWritten [2]*segment
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
	// spare is a preallocated segment ready to become the head, or nil.
	spare *segment
	// nextNum is the number the next new segment gets.
	nextNum uint64
	// live is the sum of the segments' live bytes.
	live int64
	// noSpace is set while allocating a segment fails for lack of space.
	noSpace bool
}

func (s *store) head() *segment { return s.segs[len(s.segs)-1] }

// reserve is the part of each segment kept for updates, deletes and
// compaction when puts are refused for lack of space.
func (s *store) reserve() int64 { return s.segSize / 8 }

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
// broker.Commit the appends return.
type batch struct {
	l    *Log
	done chan struct{}
	err  error // set before done is closed
	// handed is set (under Log.mu) once an append returned the batch.
	handed bool
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

var _ broker.Journal = (*Log)(nil)

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
func (l *Log) Put(j *job.Job) (broker.Commit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if err := l.putLocked(hot, j, true); err != nil {
		return nil, err
	}
	return l.commit(), nil
}

// Update logs a job's new state, priority, deadline, counters or failure
// history. Burying moves the job to the buried store and kicking moves it
// back; both write the whole job there.
func (l *Log) Update(j *job.Job) (broker.Commit, error) {
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
		if err := l.putLocked(want, j, false); err != nil {
			return nil, err
		}
	case e.st == want:
		if err := l.updateLocked(e, j); err != nil {
			return nil, err
		}
	default:
		if err := l.putLocked(want, j, false); err != nil {
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
func (l *Log) Delete(id job.ID) (broker.Commit, error) {
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
	if _, err := l.place(l.stores[e.st], l.scratch, false); err != nil {
		return nil, err
	}
	l.unlive(e)
	l.index.remove(id)
	return l.commit(), nil
}

// putLocked writes j whole into store k and makes it the job's location.
func (l *Log) putLocked(k storeKind, j *job.Job, isPut bool) error {
	l.seq++
	l.scratch = appendPut(l.scratch[:0], l.seq, j)
	lc, err := l.place(l.stores[k], l.scratch, isPut)
	if err != nil {
		return err
	}
	if old, ok := l.index.get(j.ID); ok {
		l.unlive(old)
	}
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
	lc, err := l.place(l.stores[e.st], l.scratch, false)
	if err != nil {
		return err
	}
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
// to a new segment when it does not fit, and queues it for the writer.
// Puts may not use the head's reserve. l.mu is held.
func (l *Log) place(st *store, rec []byte, isPut bool) (loc, error) {
	n := int64(len(rec))
	limit := func(s *segment) int64 {
		if isPut {
			return s.size - st.reserve()
		}
		return s.size
	}
	head := st.head()
	if head.used+n > limit(head) {
		if segmentHeaderSize+int64(padded(40))+n > st.segSize-st.reserve() {
			return loc{}, fmt.Errorf("%w: %d bytes, segment size %d", ErrTooLarge, n, st.segSize)
		}
		if err := l.rotate(st); err != nil {
			return loc{}, err
		}
		head = st.head()
	}
	off := head.used
	head.used += n
	l.queue(st.kind, head, off, rec)
	l.records.Add(1)
	return loc{seg: head.num, off: uint32(off), n: uint32(n)}, nil
}

// queue appends rec to the pending writes and wakes the writer.
func (l *Log) queue(k storeKind, s *segment, off int64, rec []byte) {
	if len(l.pend) == 0 {
		// Usually a committer writes the batch at once (see writer.go);
		// records nobody waits for are written by the writer goroutine
		// when this timer fires.
		l.idle.Reset(idleFlush)
	}
	if i := len(l.pend) - 1; i >= 0 && l.pend[i].seg == s && l.pend[i].off+int64(len(l.pend[i].buf)) == off {
		l.pend[i].buf = append(l.pend[i].buf, rec...)
	} else {
		l.pend = append(l.pend, chunk{st: k, seg: s, off: off, buf: append([]byte(nil), rec...)})
	}
}

// idleFlush is how long records nobody waits for stay in memory at most.
const idleFlush = 2 * time.Millisecond

// rotate makes a new segment st's head, writing a mark as its first
// record. l.mu is held.
func (l *Log) rotate(st *store) error {
	if st.spare == nil {
		if err := l.allocate(st); err != nil {
			return err
		}
	}
	s := st.spare
	st.spare = nil
	st.segs = append(st.segs, s)
	st.byNum[s.num] = s
	l.seq++
	m := appendMark(nil, l.seq, l.nextID)
	off := s.used
	s.used += int64(len(m))
	l.queue(st.kind, s, off, m)
	return nil
}

// allocate creates st's spare segment. l.mu is held: creating a segment
// takes a few milliseconds once per segment.
func (l *Log) allocate(st *store) error {
	s, err := createSegment(l.fs, st.dir, st.kind, st.nextNum, st.segSize)
	if err != nil {
		if isNoSpace(err) {
			if !st.noSpace {
				l.logger.Warn("wal: disk full; refusing puts until space returns", "store", st.kind.String(), "err", err)
			}
			st.noSpace = true
			return fmt.Errorf("%w: %v", ErrNoSpace, err)
		}
		return err
	}
	if st.noSpace {
		l.logger.Info("wal: disk space is back; accepting puts", "store", st.kind.String())
	}
	st.noSpace = false
	st.nextNum++
	st.spare = s
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
		for _, s := range append(st.segs, st.spare) {
			if s != nil {
				errs = append(errs, s.f.Close())
			}
		}
	}
	l.mu.Unlock()
	errs = append(errs, unlockDir(l.lock))
	return errors.Join(errs...)
}
