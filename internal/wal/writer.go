package wal

import (
	"fmt"
	"time"
)

// run is the writer goroutine, owned by the Log: Open starts it and Close
// waits for it. It writes batches, fsyncs per policy, places deferred
// gone records, keeps a spare segment ready and compacts.
func (l *Log) run() {
	defer close(l.done)
	var (
		lastSync    = l.clock.Now()
		timerArmed  bool
		lastWritten [2]*segment
	)
	afterWrite := func(b *batch) {
		switch l.opts.Fsync {
		case FsyncAlways:
			l.syncDirty()
		case FsyncInterval:
			if now := l.clock.Now(); now.Sub(lastSync) >= l.opts.Interval {
				l.syncDirty()
				lastSync = now
			} else if !timerArmed {
				timerArmed = true
				l.clock.AfterFunc(l.opts.Interval-now.Sub(lastSync), func() {
					select {
					case l.syncDue <- struct{}{}:
					default:
					}
				})
			}
		}
	}
	for {
		quitting := false
		select {
		case <-l.kick:
		case <-l.syncDue:
			timerArmed = false
			l.syncDirty()
			lastSync = l.clock.Now()
		case <-l.quit:
			quitting = true
		case reply := <-l.syncReq:
			l.flush(&lastWritten, afterWrite)
			l.flush(&lastWritten, afterWrite) // deferred gone records
			l.syncDirty()
			lastSync = l.clock.Now()
			for i := 0; i < 1000 && l.maintain(&lastWritten, afterWrite); i++ {
			}
			l.mu.Lock()
			err := l.failed
			l.mu.Unlock()
			reply <- err
			continue
		}
		l.flush(&lastWritten, afterWrite)
		if quitting {
			// Everything appended before Close, the deferred gone records
			// included, goes to disk and is fsync'd whatever the policy.
			for i := 0; i < 3; i++ {
				l.flush(&lastWritten, nil)
			}
			l.syncDirty()
			return
		}
		if l.maintain(&lastWritten, afterWrite) {
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
	}
}

// flush writes the pending records, lets durable decide when they are
// durable (nil: at once), completes the batch's commits and then places
// the deferred gone records of moves the batch made durable.
func (l *Log) flush(lastWritten *[2]*segment, durable func(*batch)) {
	l.mu.Lock()
	b, pend := l.cur, l.pend
	l.cur, l.pend = newBatch(), nil
	deferred := l.deferred
	l.deferred = nil
	err := l.failed
	l.mu.Unlock()

	if err == nil {
		err = l.write(pend, lastWritten)
	}
	if err == nil && durable != nil {
		durable(b)
	}
	l.mu.Lock()
	if err == nil {
		err = l.failed
	} else if l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		l.logger.Error("wal: write failed; refusing further changes until restart", "err", err)
	}
	if l.failed != nil {
		b.err = l.failed
	}
	for i, t := range deferred {
		l.scratch = appendTomb(l.scratch[:0], recGone, t.seq, t.id, t.putSeg)
		if _, err := l.place(l.stores[t.st], l.scratch, false); err != nil {
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
// is complete on disk before its successor holds anything.
func (l *Log) write(pend []chunk, lastWritten *[2]*segment) error {
	for _, c := range pend {
		if prev := lastWritten[c.st]; prev != nil && prev != c.seg && prev.dirty {
			if err := l.sync(prev); err != nil {
				return err
			}
		}
		lastWritten[c.st] = c.seg
		if _, err := c.seg.f.WriteAt(c.buf, c.off); err != nil {
			return fmt.Errorf("write %s at %d: %w", c.seg.path, c.off, err)
		}
		c.seg.written = c.off + int64(len(c.buf))
		c.seg.dirty = true
	}
	return nil
}

// sync fsyncs one segment. Only the writer goroutine calls it.
func (l *Log) sync(s *segment) error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	s.dirty = false
	l.fsyncs.Add(1)
	return nil
}

// syncDirty fsyncs every segment with unsynced writes.
func (l *Log) syncDirty() {
	l.mu.Lock()
	var dirty []*segment
	for _, st := range l.stores {
		for _, s := range st.segs {
			if s.dirty {
				dirty = append(dirty, s)
			}
		}
	}
	l.mu.Unlock()
	for _, s := range dirty {
		if err := l.sync(s); err != nil {
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

// maintain keeps a spare segment ready in each store and compacts at most
// one segment. It reports whether more compaction work may be waiting.
func (l *Log) maintain(lastWritten *[2]*segment, afterWrite func(*batch)) bool {
	l.mu.Lock()
	if l.failed != nil {
		l.mu.Unlock()
		return false
	}
	for _, st := range l.stores {
		if h := st.head(); st.spare == nil && h.used > h.size/2 {
			l.allocate(st) // a failure is remembered in st.noSpace and retried by the next put
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
	if victim == nil {
		return false
	}
	start := time.Now()
	if err := l.compact(st, victim, lastWritten, afterWrite); err != nil {
		l.logger.Warn("wal: compaction postponed", "segment", victim.path, "err", err)
		return false
	}
	l.logger.Debug("wal: compacted segment", "segment", victim.path, "took", time.Since(start))
	return true
}
