package wal

import (
	"fmt"
)

// victim returns the segment of s to compact next, or nil (see doc.go,
// "Compaction"). Only sealed segments whose records are all written are
// candidates. While puts are refused for lack of space, a segment at
// least an eighth dead is one too, if the room beyond what is owed to
// tombstones takes its copies.
// Log.mu is held; it is called from the writer goroutine.
func (s *store) victim() *segment {
	sealed := s.segs[:len(s.segs)-1]
	var total int64
	var best *segment
	for _, g := range sealed {
		if g.written != g.used {
			return nil
		}
		if g.live == 0 {
			return g
		}
		total += g.size
		// g.live/g.used < best.live/best.used, without division.
		if best == nil || g.live*best.used < best.live*g.used {
			best = g
		}
	}
	if best == nil {
		return nil
	}
	room := s.head().size - s.head().used + s.spareRoom() - s.owed()
	if s.noSpace && s.compactNeed(best) > room {
		// The copies do not fit: wait for deletes, or for space.
		return nil
	}
	dead := best.used - segmentHeaderSize - best.live
	if best.live == 0 || total > 2*s.live || (s.noSpace && dead >= best.size/8) {
		return best
	}
	return nil
}

// compactGroup is how many records compaction examines per hold of the
// log's lock, so that appends wait at most a few microseconds.
const compactGroup = 256

// compact copies v's live records, and the tombstones still needed, into
// st's head, makes the copies durable and removes v; size is v's written
// length. It runs in the writer goroutine, without the write token while
// it reads and copies, so appends and commits continue meanwhile.
func (l *Log) compact(st *store, v *segment, size int64) error {
	buf := make([]byte, size)
	if _, err := v.f.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("read %s: %w", v.path, err)
	}
	type item struct {
		typ    byte
		id     uint64
		putSeg uint64
		name   string // tick
		off, n int
	}
	var items []item
	for off := segmentHeaderSize; off < len(buf); {
		r, n, err := readFrame(buf, off)
		if err != nil {
			return fmt.Errorf("%w: %s offset %d: %v", ErrCorrupt, v.path, off, err)
		}
		if n == 0 {
			break
		}
		items = append(items, item{typ: r.typ, id: uint64(r.id), putSeg: r.putSeg, name: r.name, off: off, n: n})
		off += n
	}
	for i := 0; i < len(items); i += compactGroup {
		l.mu.Lock()
		for _, it := range items[i:min(i+compactGroup, len(items))] {
			old := loc{seg: v.num, off: uint32(it.off), n: uint32(it.n)}
			rec := buf[it.off : it.off+it.n]
			switch it.typ {
			case recPut, recUpdate:
				id := jobID(it.id)
				e, ok := l.index.get(id)
				if !ok || e.st != st.kind || (e.put != old && e.last != old) {
					continue
				}
				nl, err := l.place(st, rec, forCopy)
				if err != nil {
					l.mu.Unlock()
					return err
				}
				l.migrated.Add(1)
				l.subLive(st.kind, old)
				l.addLive(st.kind, nl)
				if e.put == old {
					e.put = nl
				}
				if e.last == old {
					e.last = nl
				}
				l.index.set(id, e)
			case recTick:
				tr, ok := l.ticks[it.name]
				if !ok || tr.lc != old {
					continue // an older tick of the schedule
				}
				nl, err := l.place(st, rec, forCopy)
				if err != nil {
					l.mu.Unlock()
					return err
				}
				tr.lc = nl
				l.ticks[it.name] = tr
			case recDelete, recGone:
				if it.putSeg == v.num || st.byNum[it.putSeg] == nil {
					continue
				}
				nl, err := l.place(st, rec, forCopy)
				if err != nil {
					l.mu.Unlock()
					return err
				}
				st.byNum[nl.seg].tombs += int64(nl.n)
			}
		}
		l.mu.Unlock()
	}
	// The drop record tells the next start that v is gone on purpose
	// (see doc.go, "Segment sequence"); it is durable before v goes.
	l.mu.Lock()
	if v.live != 0 {
		l.mu.Unlock()
		return fmt.Errorf("%s still holds %d live bytes after copying", v.path, v.live)
	}
	l.seq++
	if _, err := l.place(st, appendDrop(nil, l.seq, v.num), forCopy); err != nil {
		l.mu.Unlock()
		return err
	}
	v.dropping = true
	l.mu.Unlock()
	// The copies are written, then fsync'd without the write token so that
	// commits go on meanwhile, and only then is v removed.
	l.lockW()
	l.flush()
	dirty := l.dirtySegments(nil)
	l.unlockW()
	l.syncSegments(dirty)
	l.lockW()
	defer l.unlockW()
	l.mu.Lock()
	if l.failed != nil {
		l.mu.Unlock()
		return l.failed
	}
	if v.live != 0 {
		l.mu.Unlock()
		return fmt.Errorf("%s still holds %d live bytes after copying", v.path, v.live)
	}
	for i, g := range st.segs {
		if g == v {
			st.segs = append(st.segs[:i:i], st.segs[i+1:]...)
			break
		}
	}
	delete(st.byNum, v.num)
	l.mu.Unlock()
	if l.lastWritten[st.kind] == v {
		l.lastWritten[st.kind] = nil
	}
	v.f.Close()
	if err := l.fs.Remove(v.path); err != nil {
		return fmt.Errorf("remove compacted segment: %w", err)
	}
	if err := l.fs.SyncDir(st.dir); err != nil {
		return fmt.Errorf("fsync %s: %w", st.dir, err)
	}
	l.compactions.Add(1)
	l.compactedBytes.Add(uint64(v.size))
	return nil
}
