package wal

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/reprieve/reprieve/internal/config"
)

// Flags are the log's command-line flags of `reprieve serve`, kept here so
// that the command only wires them.
type Flags struct {
	// Data is the data directory; "" keeps jobs in memory only.
	Data string
	// Fsync is the policy as --fsync takes it (see ParseFsync).
	Fsync string
	// NoLog keeps jobs in memory only, like --data ''.
	NoLog bool
	// SegmentSize is --segment-size, a size in the config dialect
	// (config.ParseSize: "16m", "64MiB").
	SegmentSize string
}

// Register adds --data, --fsync, --no-log and --segment-size to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Data, "data", "./reprieve-data", "data directory of the durable log; '' keeps jobs in memory only")
	fs.StringVar(&f.Fsync, "fsync", "interval", "when the log fsyncs: always (answer after fsync; concurrent clients share one), interval[=50ms] (at most every interval), never")
	fs.BoolVar(&f.NoLog, "no-log", false, "keep jobs in memory only (no data directory), as beanstalkd without -b")
	fs.StringVar(&f.SegmentSize, "segment-size", "16m", "size of a log segment file (preallocated); must exceed the max job size by an eighth")
}

// Options turns the flags into Options; enabled is false for memory-only
// mode. maxJobSize is the server's largest body, checked against the
// segment size.
func (f *Flags) Options(logger *slog.Logger, maxJobSize int) (o Options, enabled bool, err error) {
	if f.NoLog || f.Data == "" {
		return Options{}, false, nil
	}
	policy, interval, err := ParseFsync(f.Fsync)
	if err != nil {
		return Options{}, false, fmt.Errorf("--fsync: %w", err)
	}
	size, err := config.ParseSize(f.SegmentSize)
	if err == nil && size <= 0 {
		err = fmt.Errorf("%q is not positive", f.SegmentSize)
	}
	if err != nil {
		return Options{}, false, fmt.Errorf("--segment-size: wal: %w (want a size such as 16m or 64MiB)", err)
	}
	o = Options{Dir: f.Data, Fsync: policy, Interval: interval, SegmentSize: size, Logger: logger}
	if err := o.Validate(); err != nil {
		return Options{}, false, err
	}
	if maxJobSize > o.MaxJobSize() {
		return Options{}, false, fmt.Errorf("wal: max job size %d does not fit segments of %d bytes (at most %d); raise --segment-size", maxJobSize, size, o.MaxJobSize())
	}
	return o, true, nil
}
