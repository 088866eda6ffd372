package wal

import (
	"fmt"
	"strconv"
)

// Stats is a snapshot of the log for `stats` and monitoring.
type Stats struct {
	// Policy is the fsync policy's name.
	Policy string
	// Hot and Buried describe the two stores.
	Hot, Buried StoreStats
	// Fsyncs counts fsyncs of segments; Batches counts write batches
	// (group commits).
	Fsyncs, Batches uint64
	// Compactions counts segments compacted away; CompactedBytes their
	// size.
	Compactions, CompactedBytes uint64
	// NoSpace is set while the log cannot create its next segment for
	// lack of disk space: puts are refused once the current segment is
	// full (release, bury and delete go on). It clears when a segment is
	// created again: by the writer, which retries whenever it has work
	// (Sync included), or by a put that needs a new segment.
	NoSpace bool
	// Records counts records appended since Open; Migrated those copied
	// forward by compaction.
	Records, Migrated uint64
	// OldestSegment and HeadSegment are the numbers of the hot log's first
	// and current segments; SegmentSize its segments' size (for
	// beanstalkd's binlog-* keys).
	OldestSegment, HeadSegment uint64
	SegmentSize                int64
}

// StoreStats describes one store.
type StoreStats struct {
	// Segments counts segment files, the preallocated spares included.
	Segments int
	// DiskBytes is the size of those files; UsedBytes the bytes of
	// records; LiveBytes those still needed; DeadBytes = UsedBytes -
	// LiveBytes, which compaction reclaims.
	DiskBytes, UsedBytes, LiveBytes, DeadBytes int64
	// PerSegment has one entry per segment in order, spares last.
	PerSegment []SegmentStats
}

// SegmentStats describes one segment file.
type SegmentStats struct {
	Num                    uint64
	Size, Used, Live, Dead int64
}

// Stats returns a snapshot; it takes the log's lock briefly.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{
		Policy:         l.opts.Fsync.String(),
		Fsyncs:         l.fsyncs.Load(),
		Batches:        l.batches.Load(),
		Compactions:    l.compactions.Load(),
		CompactedBytes: l.compactedBytes.Load(),
		NoSpace:        l.stores[hot].noSpace,
		Records:        l.records.Load(),
		Migrated:       l.migrated.Load(),
		OldestSegment:  l.stores[hot].segs[0].num,
		HeadSegment:    l.stores[hot].head().num,
		SegmentSize:    l.stores[hot].segSize,
	}
	for k, st := range l.stores {
		var ss StoreStats
		for _, g := range append(st.segs[:len(st.segs):len(st.segs)], st.spares...) {
			if g == nil {
				continue
			}
			used := g.used - segmentHeaderSize
			ss.Segments++
			ss.DiskBytes += g.size
			ss.UsedBytes += used
			ss.LiveBytes += g.live
			ss.PerSegment = append(ss.PerSegment, SegmentStats{Num: g.num, Size: g.size, Used: used, Live: g.live, Dead: used - g.live})
		}
		ss.DeadBytes = ss.UsedBytes - ss.LiveBytes
		if storeKind(k) == hot {
			s.Hot = ss
		} else {
			s.Buried = ss
		}
	}
	return s
}

// StatsKeys returns the log's keys for the `stats` reply, in order. Each
// is new to beanstalkd's reply (see docs/wal.md):
//
//	wal-fsync-policy, wal-fsyncs, wal-batches, wal-compactions,
//	wal-compacted-bytes, wal-no-space,
//	wal-hot-segments, wal-hot-disk-bytes, wal-hot-live-bytes, wal-hot-dead-bytes,
//	wal-buried-segments, wal-buried-disk-bytes, wal-buried-live-bytes, wal-buried-dead-bytes,
//	wal-hot-segment-<num>, wal-buried-segment-<num>: "live=<bytes> dead=<bytes> size=<bytes>"
func (s Stats) StatsKeys() [][2]string {
	kv := [][2]string{
		{"wal-fsync-policy", s.Policy},
		{"wal-fsyncs", strconv.FormatUint(s.Fsyncs, 10)},
		{"wal-batches", strconv.FormatUint(s.Batches, 10)},
		{"wal-compactions", strconv.FormatUint(s.Compactions, 10)},
		{"wal-compacted-bytes", strconv.FormatUint(s.CompactedBytes, 10)},
		{"wal-no-space", strconv.FormatBool(s.NoSpace)},
	}
	for _, st := range []struct {
		name string
		s    StoreStats
	}{{"hot", s.Hot}, {"buried", s.Buried}} {
		kv = append(kv,
			[2]string{"wal-" + st.name + "-segments", strconv.Itoa(st.s.Segments)},
			[2]string{"wal-" + st.name + "-disk-bytes", strconv.FormatInt(st.s.DiskBytes, 10)},
			[2]string{"wal-" + st.name + "-live-bytes", strconv.FormatInt(st.s.LiveBytes, 10)},
			[2]string{"wal-" + st.name + "-dead-bytes", strconv.FormatInt(st.s.DeadBytes, 10)},
		)
	}
	for _, st := range []struct {
		name string
		s    StoreStats
	}{{"hot", s.Hot}, {"buried", s.Buried}} {
		for _, g := range st.s.PerSegment {
			kv = append(kv, [2]string{fmt.Sprintf("wal-%s-segment-%d", st.name, g.Num),
				fmt.Sprintf("live=%d dead=%d size=%d", g.Live, g.Dead, g.Size)})
		}
	}
	return kv
}
