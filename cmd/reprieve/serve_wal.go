package main

// This file holds the durable-log part of reprieve serve: the --data,
// --fsync, --no-log and --segment-size flags, opening and replaying the
// log before the server listens, its stats keys, and closing it last.

import (
	"log/slog"
	"runtime/debug"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
)

func init() {
	var flags wal.Flags
	registerServePlugin(servePlugin{
		name:  "log",
		flags: flags.Register,
		configure: func(log *slog.Logger, bc *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
			return configureLog(&flags, log, bc, sc)
		},
	})
}

// configureLog opens the data directory (unless memory-only), makes the
// log the broker's journal and the source of the binlog-* and wal-* stats
// keys, restores the recovered jobs once the broker exists, and closes the
// log after the broker has stopped.
func configureLog(flags *wal.Flags, log *slog.Logger, bc *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	opts, enabled, err := flags.Options(log, bc.MaxJobSize)
	if err != nil {
		return nil, nil, err
	}
	if !enabled {
		log.Info("no data directory: jobs are kept in memory only")
		return nil, nil, nil
	}
	l, rec, err := wal.Open(opts)
	if err != nil {
		return nil, nil, err
	}
	log.Info("log replayed", "data", opts.Dir, "fsync", opts.Fsync.String(), "jobs", len(rec.Jobs),
		"next_id", rec.NextID, "segments", rec.Segments, "records", rec.Records, "took", rec.Took)
	bc.Journal = l
	sc.Binlog = func() server.BinlogStats {
		st := l.Stats()
		return server.BinlogStats{
			OldestIndex:     int64(st.OldestSegment),
			CurrentIndex:    int64(st.HeadSegment),
			RecordsMigrated: int64(st.Migrated),
			RecordsWritten:  int64(st.Records),
			MaxSize:         st.SegmentSize,
		}
	}
	sc.ExtraStats = func() []beanstalk.KeyValue {
		keys := l.Stats().StatsKeys()
		kv := make([]beanstalk.KeyValue, len(keys))
		for i, k := range keys {
			kv[i] = beanstalk.KeyValue{Key: k[0], Value: k[1]}
		}
		return kv
	}
	started := func(b *broker.Broker) error {
		// The log reports the id the next put must get; the engine
		// takes the last id given out.
		last := rec.NextID
		if last > 0 {
			last--
		}
		b.Restore(rec.Jobs, last)
		rec.Jobs = nil
		// The replay leaves garbage of several times the jobs' size (the
		// decoded records, the recovery's tables): return it to the
		// operating system now rather than over minutes. Stats takes the
		// log's lock, which the goroutine filling the log's index holds
		// until it is done.
		_ = l.Stats()
		debug.FreeOSMemory()
		return nil
	}
	return started, l.Close, nil
}
