package wal

import (
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// Writing is done by whoever holds the write token (l.wtok): a caller in Commit.Wait whose
// batch is not written yet (the leader: it writes, and under "always"
// fsyncs, every record appended so far, so one write and one fsync serve
// all the commits waiting behind it), or the writer goroutine, which
// flushes records nobody waits for, runs the interval fsync (without the
// token, so that commits go on meanwhile), keeps a spare segment ready and
// compacts. No goroutine handoff sits on the path of a commit.

// run is the writer goroutine, owned by the Log: Open starts it and Close
// waits for it.
func (l *Log) run() {
	defer close(l.done)
	for {
		select {
		case <-l.kick:
			// Records nobody waits for, or maintenance. A leader writing
			// now may have taken its batch before these records came:
			// wait for it rather than leave them to the next committer.
			l.lockW()
			l.flush()
			l.unlockW()
		case <-l.syncDue:
			// The interval fsync: the dirty segments are chosen under the
			// write token, and fsync'd after it is released, so that
			// commits keep being written meanwhile.
			l.lockW()
			l.timerArmed = false
			l.lastSync = l.clock.Now()
			dirty, hw := l.dirtySegments(nil), l.writtenHW
			l.unlockW()
			l.syncSegments(dirty)
			l.synced(hw)
		case <-l.quit:
			// Everything appended before Close, the deferred gone records
			// included, goes to disk and is fsync'd whatever the policy.
			l.lockW()
			for i := 0; i < 3; i++ {
				l.flush()
			}
			l.syncDirty()
			l.unlockW()
			return
		case reply := <-l.syncReq:
			l.lockW()
			l.flush()
			l.flush() // deferred gone records
			l.syncDirty()
			l.lastSync = l.clock.Now()
			l.unlockW()
			for i := 0; i < 1000 && l.maintain(); i++ {
			}
			l.mu.Lock()
			err := l.failed
			l.mu.Unlock()
			reply <- err
			continue
		}
		if l.maintain() {
			l.wake()
		}
	}
}

// wake kicks the writer goroutine without blocking.
func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// lead is Commit.Wait's path: the caller waits for b to be written or for
// the right to write, and then writes b (and everything appended before
// and after it so far) unless a previous writer took it.
func (l *Log) lead(b *batch) {
	select {
	case <-b.done:
		return
	case l.wtok <- struct{}{}:
	}
	select {
	case <-b.done:
	default:
		l.flush()
	}
	l.mu.Lock()
	due := l.maintenanceDue()
	l.mu.Unlock()
	l.unlockW()
	if due {
		l.wake()
	}
}

func (l *Log) lockW()   { l.wtok <- struct{}{} }
func (l *Log) unlockW() { <-l.wtok }

// maintenanceDue tells whether a store needs a spare segment or has a
// segment to compact. The write token and l.mu are held.
func (l *Log) maintenanceDue() bool {
	for _, st := range l.stores {
		if l.spareDue(st) && !st.noSpace {
			return true
		}
		if st.victim() != nil {
			return true
		}
	}
	return false
}

// spareDue tells whether st should get a spare segment now: its head is
// more than half full and the spare, counted with every other file, keeps
// the data directory within the disk bound (see doc.go, "Compaction").
// Without a spare, the put that fills the head creates the next segment
// itself. l.mu is held.
func (l *Log) spareDue(st *store) bool {
	if h := st.head(); len(st.spares) > 0 || h.used <= h.size/2 {
		return false
	}
	var disk, live int64
	for _, s := range l.stores {
		for _, g := range s.segs {
			disk += g.size
		}
		for _, g := range s.spares {
			disk += g.size
		}
		live += s.live
	}
	return disk+st.segSize <= 3*live+l.stores[hot].segSize
}

// afterWrite makes a written batch as durable as the policy promises
// before its commits complete; a batch that uses job ids beyond the
// durable high-water mark is fsync'd under the interval policy too. The
// write token is held.
func (l *Log) afterWrite(b *batch) {
	switch {
	case l.opts.Fsync == FsyncAlways || (l.opts.Fsync == FsyncInterval && b.syncHW):
		l.syncDirty()
		l.synced(l.writtenHW)
	case l.opts.Fsync == FsyncInterval:
		// The writer goroutine fsyncs, never the committer: a commit
		// never waits for an fsync under this policy.
		if l.timerArmed {
			return
		}
		l.timerArmed = true
		if d := l.opts.Interval - l.clock.Now().Sub(l.lastSync); d > 0 {
			l.clock.AfterFunc(d, l.syncNow)
		} else {
			l.syncNow()
		}
	}
}

// synced records that an fsync covered the records written up to id
// high-water mark hw, unless the log failed.
func (l *Log) synced(hw job.ID) {
	l.mu.Lock()
	if l.failed == nil {
		l.durableHW = max(l.durableHW, hw)
	}
	l.mu.Unlock()
}

// syncNow asks the writer goroutine for the interval fsync.
func (l *Log) syncNow() {
	select {
	case l.syncDue <- struct{}{}:
	default:
	}
}

// flush writes the pending records, makes them durable per policy,
// completes the batch's commits and then places the deferred gone records
// of moves the batch made durable. the write token is held.
func (l *Log) flush() {
	l.mu.Lock()
	b, pend := l.cur, l.pend
	if len(pend) == 0 && len(l.deferred) == 0 && !b.handed {
		l.mu.Unlock()
		return
	}
	l.cur, l.pend, l.spare = newBatch(l), l.spare[:0], nil
	deferred := l.deferred
	l.deferred = nil
	err := l.failed
	hw := l.hw
	l.mu.Unlock()

	if err == nil {
		err = l.write(pend)
	}
	if err == nil && len(pend) > 0 {
		l.writtenHW = hw
		l.afterWrite(b)
	}
	l.mu.Lock()
	if err != nil && l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		l.logger.Error("wal: write failed; refusing further changes until restart", "err", err)
	}
	if l.failed != nil {
		b.err = l.failed
	}
	for i := range pend {
		pend[i].seg = nil
		if cap(pend[i].buf) > maxKeptBuffer {
			pend[i].buf = nil
		}
	}
	l.spare = pend[:0]
	for i, t := range deferred {
		l.scratch = appendTomb(l.scratch[:0], recGone, t.seq, t.id, t.putSeg)
		if _, err := l.placeTomb(t.st, l.scratch); err != nil {
			l.deferred = append(l.deferred, deferred[i:]...)
			break
		}
	}
	l.mu.Unlock()
	l.batches.Add(1)
	close(b.done)
}

// write writes the chunks in order. Before writing to a segment newer than
// the last one written in a store, it fsyncs that one, so that a segment
// is complete on disk before its successor holds anything. the write token is held.
func (l *Log) write(pend []chunk) error {
	for _, c := range pend {
		if prev := l.lastWritten[c.st]; prev != nil && prev != c.seg && prev.dirty() {
			if err := l.sync(prev); err != nil {
				return err
			}
		}
		l.lastWritten[c.st] = c.seg
		if _, err := c.seg.f.WriteAt(c.buf, c.off); err != nil {
			return fmt.Errorf("write %s at %d: %w", c.seg.path, c.off, err)
		}
		c.seg.written = c.off + int64(len(c.buf))
		c.seg.writes++
	}
	return nil
}

// sync fsyncs one segment. the write token is held.
func (l *Log) sync(s *segment) error {
	return l.syncUpTo(s, s.writes)
}

// syncUpTo fsyncs s, which covers at least its first n writes. It does
// not need the write token.
func (l *Log) syncUpTo(s *segment, n uint64) error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	s.markSynced(n)
	l.fsyncs.Add(1)
	return nil
}

// syncTarget is a segment to fsync and the write count the fsync covers.
type syncTarget struct {
	s      *segment
	writes uint64
}

// dirtySegments appends the segments with unsynced writes to dirty. the
// write token is held.
func (l *Log) dirtySegments(dirty []syncTarget) []syncTarget {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.stores {
		for _, s := range st.segs {
			if s.dirty() {
				dirty = append(dirty, syncTarget{s, s.writes})
			}
		}
	}
	return dirty
}

// syncSegments fsyncs the segments dirtySegments listed; a failure stops
// the log. It needs no write token, but only the writer goroutine (which
// alone closes compacted segments) or a holder of the token may call it.
func (l *Log) syncSegments(dirty []syncTarget) {
	for _, d := range dirty {
		if err := l.syncUpTo(d.s, d.writes); err != nil {
			l.mu.Lock()
			if l.failed == nil {
				l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
				l.logger.Error("wal: fsync failed; refusing further changes until restart", "err", err)
			}
			l.mu.Unlock()
			return
		}
	}
}

// syncDirty fsyncs every segment with unsynced writes. the write token is
// held, which protects l.dirty, reused so that an fsync per commit
// (policy always) allocates nothing.
func (l *Log) syncDirty() {
	l.dirty = l.dirtySegments(l.dirty[:0])
	l.syncSegments(l.dirty)
}

// maintain keeps a spare segment ready in each store and compacts at most
// one segment. It reports whether more compaction work may be waiting.
// It takes the write token only to choose and to finish: committers keep
// writing while compaction reads and copies.
func (l *Log) maintain() bool {
	l.lockW()
	l.mu.Lock()
	if l.failed != nil {
		l.mu.Unlock()
		l.unlockW()
		return false
	}
	for _, st := range l.stores {
		// After a failure for lack of space the spare is tried again
		// whenever the writer has work (and by the next put that needs a
		// segment), so that the flag clears soon after space returns.
		if len(st.spares) == 0 && (st.noSpace || l.spareDue(st)) {
			l.allocate(st) // a failure is remembered in st.noSpace
		}
	}
	var st *store
	var victim *segment
	for _, s := range l.stores {
		if v := s.victim(); v != nil {
			st, victim = s, v
			break
		}
	}
	l.mu.Unlock()
	var size int64
	if victim != nil {
		size = victim.written
	}
	l.unlockW()
	if victim == nil {
		return false
	}
	start := time.Now()
	if err := l.compact(st, victim, size); err != nil {
		l.logger.Warn("wal: compaction postponed", "segment", victim.path, "err", err)
		return false
	}
	l.logger.Debug("wal: compacted segment", "segment", victim.path, "took", time.Since(start))
	return true
}
