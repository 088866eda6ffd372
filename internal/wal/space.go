package wal

import "fmt"

// This file holds the log's plan for disk space (see doc.go, "Full
// disk"): which room a record may use, so that a delete always finds
// room, compaction can always make progress, and only puts are refused
// when the disk is full.

// placeKind says which room a record may use.
type placeKind uint8

const (
	// forTomb is a delete or gone record: it uses the room its job owes.
	forTomb placeKind = iota
	// forCopy is compaction's copies and drop records and the log's own
	// marks: they may use everything but the room owed to tombstones.
	forCopy
	// forUpdate is an update, or the put that moves a job between stores:
	// it must also leave the room compaction needs.
	forUpdate
	// forPut is a new job: as forUpdate, and it owes its own tombstone.
	forPut
)

// owed is the room every live job of the store is owed for its delete or
// gone record, and a rotation's mark and waste. Log.mu is held.
func (s *store) owed() int64 {
	return tombSize*s.jobs + s.markSize() + tombSize
}

// markSize bounds the head mark a rotation writes: it lists the store's
// segments.
func (s *store) markSize() int64 {
	return int64(padded(frameHeaderSize + 1 + 3*10 + 10*(len(s.segs)+1)))
}

// compactNeed bounds the room compacting g takes: its live records and
// tombstones, a record's worth of waste at a rotation, its drop record.
func (s *store) compactNeed(g *segment) int64 {
	return g.live + g.tombs + s.maxRec + tombSize
}

// compactRoom is the room compacting the store's cheapest sealed segment
// needs (0 without one). Log.mu is held.
func (s *store) compactRoom() int64 {
	best := int64(-1)
	for _, g := range s.segs[:len(s.segs)-1] {
		if !g.dropping && (best < 0 || s.compactNeed(g) < best) {
			best = s.compactNeed(g)
		}
	}
	return max(best, 0)
}

// need is the room that must remain after placing a record of kind k.
func (s *store) need(k placeKind) int64 {
	switch k {
	case forTomb:
		return 0
	case forCopy:
		return s.owed()
	case forUpdate:
		return s.owed() + s.compactRoom()
	}
	return s.owed() + tombSize + s.compactRoom()
}

// spareRoom is the room of the spare segments, less a head mark each.
func (s *store) spareRoom() int64 {
	var n int64
	for _, g := range s.spares {
		n += g.size - g.used - s.markSize()
	}
	return n
}

// fit makes room for a record of n bytes of kind k: it goes in the head
// when it fits there, else in a new head (the first spare, or a segment
// created now). Unless k is forTomb, the room left after it in the head
// and the spares must be at least the kind's need: when the head's rest
// is what falls short, the record starts a new head; when one segment
// is not enough, spares are created until it is. It returns ErrNoSpace
// when no segment can be created. Log.mu is held.
func (l *Log) fit(st *store, n int64, k placeKind) error {
	need := st.need(k)
	fresh := st.segSize - segmentHeaderSize - st.markSize()
	for tries := 0; ; tries++ {
		head := st.head()
		inHead := head.used+n <= head.size
		switch {
		case inHead && (k == forTomb || head.size-head.used-n+st.spareRoom() >= need):
			return nil
		case k == forTomb, st.spareRoom()-n >= need, len(st.spares) == 0 && fresh-n >= need:
			return l.rotate(st) // into the first spare, or a segment created now
		case int64(tries) > need/st.segSize+2:
			return fmt.Errorf("%w: %d bytes of the %s store's room are kept for deletes and compaction", ErrNoSpace, need, st.kind)
		}
		if err := l.allocate(st); err != nil {
			return err
		}
	}
}

// setNoSpace records whether puts to st are refused for lack of space,
// logging the changes; why is the refusal's cause. Log.mu is held.
func (l *Log) setNoSpace(st *store, full bool, why error) {
	switch {
	case full && !st.noSpace:
		l.logger.Warn("wal: disk full; refusing puts until space returns", "store", st.kind.String(), "err", why)
	case !full && st.noSpace:
		l.logger.Info("wal: disk space is back; accepting puts", "store", st.kind.String())
	}
	st.noSpace = full
}
