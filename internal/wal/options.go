package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/config"
)

// Errors of the log. Callers test them with errors.Is.
var (
	// ErrNoSpace means a put cannot be logged because no disk space is
	// left for a new segment; the engine answers OUT_OF_MEMORY.
	ErrNoSpace = errors.New("wal: no space left for the log")
	// ErrCorrupt means a segment is damaged before its end; the message
	// names the file and offset. `reprieve repair` salvages the rest.
	ErrCorrupt = errors.New("wal: corrupt record")
	// ErrLocked means another process uses the data directory.
	ErrLocked = errors.New("wal: data directory locked")
	// ErrClosed is returned by appends after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrFailed wraps the I/O error that stopped the log: after a write or
	// fsync of a record fails the log refuses every further change and
	// the server must be restarted (it recovers from what is on disk).
	ErrFailed = errors.New("wal: log failed")
	// ErrTooLarge means a record does not fit in a segment; raise the
	// segment size above the largest job.
	ErrTooLarge = errors.New("wal: record larger than a segment")
)

// FsyncPolicy says when the log fsyncs; see doc.go.
type FsyncPolicy uint8

// The fsync policies.
const (
	FsyncInterval FsyncPolicy = iota // fsync at most once per Options.Interval; the default
	FsyncAlways                      // acknowledge only after fsync
	FsyncNever                       // never fsync records
)

// String returns the policy's name as --fsync takes it.
func (p FsyncPolicy) String() string {
	switch p {
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	}
	return "interval"
}

// DefaultInterval is the default fsync interval, beanstalkd's 50 ms.
const DefaultInterval = 50 * time.Millisecond

// ParseFsync parses --fsync's value: "always", "never", "interval" or
// "interval=N" with N a Go duration or a number of milliseconds
// ("interval=50ms", "interval=200").
func ParseFsync(s string) (FsyncPolicy, time.Duration, error) {
	name, arg, hasArg := strings.Cut(s, "=")
	switch name {
	case "always", "never":
		if hasArg {
			return 0, 0, fmt.Errorf("wal: fsync policy %q takes no value", name)
		}
		if name == "always" {
			return FsyncAlways, 0, nil
		}
		return FsyncNever, 0, nil
	case "interval":
		if !hasArg {
			return FsyncInterval, DefaultInterval, nil
		}
		// A bare whole number is milliseconds here (beanstalkd's -f);
		// anything else is a duration in the config dialect.
		var d time.Duration
		if ms, err := strconv.ParseInt(arg, 10, 64); err == nil {
			d = time.Duration(ms) * time.Millisecond
		} else if d, err = config.ParseDuration(arg); err != nil {
			return 0, 0, fmt.Errorf("wal: fsync interval %q: want a duration such as 50ms", arg)
		}
		if d <= 0 {
			return 0, 0, fmt.Errorf("wal: fsync interval %q must be positive", arg)
		}
		return FsyncInterval, d, nil
	}
	return 0, 0, fmt.Errorf("wal: unknown fsync policy %q: want always, interval[=50ms] or never", s)
}

// Options configures a Log. Zero fields take their defaults.
type Options struct {
	// Dir is the data directory; it is created if missing. Required.
	Dir string
	// Fsync is the durability policy; default FsyncInterval.
	Fsync FsyncPolicy
	// Interval is the FsyncInterval period; default DefaultInterval.
	Interval time.Duration
	// SegmentSize is the preallocated size of a hot-log segment; default
	// 16 MiB, at least 64 KiB. A job's record must fit in seven eighths.
	SegmentSize int64
	// BuriedSegmentSize is the size of a buried-store segment; default a
	// quarter of SegmentSize, at least 64 KiB.
	BuriedSegmentSize int64
	// Logger receives warnings (torn tails) and compaction notes; default
	// slog.Default().
	Logger *slog.Logger
	// Clock times the interval fsyncs; default clock.Real().
	Clock clock.Clock

	// fs replaces the file layer in tests.
	fs fileSystem
}

// Default sizes.
const (
	DefaultSegmentSize = 16 << 20
	MinSegmentSize     = 64 << 10
)

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.BuriedSegmentSize == 0 {
		o.BuriedSegmentSize = max(o.SegmentSize/4, MinSegmentSize)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.fs == nil {
		o.fs = osFS{}
	}
	return o
}

// Validate reports the first invalid field of o (after defaults).
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Dir == "":
		return errors.New("wal: no data directory given")
	case o.Fsync > FsyncNever:
		return fmt.Errorf("wal: unknown fsync policy %d", o.Fsync)
	case o.Interval < 0:
		return fmt.Errorf("wal: negative fsync interval %v", o.Interval)
	case o.SegmentSize < MinSegmentSize || o.SegmentSize > 1<<31:
		return fmt.Errorf("wal: segment size %d outside [%d, %d]", o.SegmentSize, MinSegmentSize, 1<<31)
	case o.BuriedSegmentSize < MinSegmentSize || o.BuriedSegmentSize > 1<<31:
		return fmt.Errorf("wal: buried segment size %d outside [%d, %d]", o.BuriedSegmentSize, MinSegmentSize, 1<<31)
	}
	return nil
}

// MaxJobSize returns the largest job body a log with options o can hold;
// the server's max job size must not exceed it.
func (o Options) MaxJobSize() int {
	o = o.withDefaults()
	s := min(o.SegmentSize, o.BuriedSegmentSize)
	return int(s - s/8 - segmentHeaderSize - 1024 - 4*1024)
}
