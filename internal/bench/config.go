package bench

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"time"
)

// Workload names what the generator does with each connection.
type Workload string

// The workloads. Every one of them works against any server that speaks
// beanstalkd's protocol.
const (
	// Put puts jobs as fast as the server accepts them; one operation is
	// one put, its latency put → INSERTED.
	Put Workload = "put"
	// ReserveDelete reserves and deletes jobs from tubes it fills first;
	// one operation is a reserve+delete pair, its latency from sending the
	// reserve to reading DELETED. A run stops early when the tubes are empty.
	ReserveDelete Workload = "reserve-delete"
	// PutReserveDelete runs Conns producers and Conns workers at once; one
	// operation is a job put, reserved and deleted, and the main latency is
	// from sending the put to reading the RESERVED reply (put → reserve).
	PutReserveDelete Workload = "put-reserve-delete"
	// ReleaseChurn reserves and releases (with Delay) a fixed set of jobs
	// again and again; one operation is a reserve+release pair. With a
	// delay it is beanstalkd issue #622's retry-over-days workload.
	ReleaseChurn Workload = "release-churn"
)

// Workloads lists every workload, in the order the documentation gives them.
var Workloads = []Workload{Put, ReserveDelete, PutReserveDelete, ReleaseChurn}

// Config describes one run. Build it from DefaultConfig and check it with
// Validate; Run validates it again.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// TLS, if set, makes every connection (to Addr, and to Compare's B)
	// TLS with this configuration; its ServerName defaults to the host of
	// the address. Nil: plain TCP.
	TLS *tls.Config
	// Workload is what each connection does.
	Workload Workload
	// Conns is the number of connections (for PutReserveDelete: of
	// producers, and as many workers again).
	Conns int
	// Pipeline is how many requests each connection keeps in flight.
	Pipeline int
	// Size is the job body size in bytes (at least 19 for
	// PutReserveDelete, whose bodies carry the put's timestamp).
	Size int
	// Tubes is how many tubes the server holds during the run: connection
	// i works on tube i mod Tubes, and tubes no connection works on are
	// given one job each before the run, so the server carries them all.
	Tubes int
	// TubePrefix names the tubes: PREFIX-0, PREFIX-1, …
	TubePrefix string
	// Duration bounds the run in time; Count bounds it in operations.
	// Exactly one of them is set.
	Duration time.Duration
	Count    int64
	// Prefill is how many jobs ReserveDelete (in Duration mode) and
	// ReleaseChurn put before the run; 0 picks a default (Count for
	// ReserveDelete with a Count, 200,000 in Duration mode; for
	// ReleaseChurn max(1000, 2 × Conns × Pipeline)).
	Prefill int
	// NoPrefill makes ReserveDelete and ReleaseChurn take the jobs already
	// in the tubes (put there by a Put run with Keep) instead of putting
	// their own: the run then sends only its own commands, for counting
	// system calls per operation.
	NoPrefill bool
	// Rate, if positive, paces the puts of Put and PutReserveDelete to
	// this many per second in total, spread over the producers, so that
	// PutReserveDelete measures put → reserve latency below saturation
	// rather than the time jobs wait in a growing backlog.
	Rate int
	// Delay is the delay of each release in ReleaseChurn.
	Delay time.Duration
	// Kick makes ReleaseChurn answer "no job ready" with a kick of the
	// whole set instead of waiting: with a long Delay this is issue #622's
	// workload (jobs released with a delay of hours, brought back round
	// after round) without waiting for the delay.
	Kick bool
	// Bury puts and buries this many jobs in the first tube before the run
	// (one buried job among heavy churn is the seed-003 log workload).
	// They are left buried afterwards.
	Bury int
	// EventLoop drives every connection from one event loop on a locked OS
	// thread (epoll; Linux, plain TCP, Put without Rate and ReserveDelete,
	// bodies up to 60 KiB) instead of a goroutine per connection: the
	// generator then takes less CPU per request, leaving more of a small
	// machine to the server measured (docs/performance.md, "Two
	// generators that agree").
	EventLoop bool
	// Priority and TTR are those of every job put.
	Priority uint32
	TTR      time.Duration
	// Keep leaves the jobs of the run on the server; by default the run
	// deletes the ready and delayed jobs of its tubes afterwards (untimed),
	// so that rounds start from the same state.
	Keep bool
	// Progress, if set, receives a progress line every ProgressEvery;
	// with ProgressInPlace the line is redrawn (a terminal), else one line
	// is written per tick.
	Progress        io.Writer
	ProgressEvery   time.Duration
	ProgressInPlace bool
}

// DefaultConfig returns the defaults: 127.0.0.1:11300, put, 8 connections,
// pipeline 1, 64-byte jobs, one tube "bench-0", 10 s, priority 1024, TTR 60 s.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1:11300",
		Workload:      Put,
		Conns:         8,
		Pipeline:      1,
		Size:          64,
		Tubes:         1,
		TubePrefix:    "bench",
		Duration:      10 * time.Second,
		Priority:      1024,
		TTR:           60 * time.Second,
		ProgressEvery: time.Second,
	}
}

// maxJobSize is beanstalkd's default limit (-z), the most we try to put.
const maxJobSize = 65535

// maxLoopBody is the largest body the event loop handles: a reply and its
// body must fit in a connection's buffer.
const maxLoopBody = connBufSize - 4096

// Validate reports the first invalid field, wrapped around ErrConfig.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	known := false
	for _, w := range Workloads {
		known = known || c.Workload == w
	}
	switch {
	case !known:
		return bad("unknown workload %q (want one of %s)", c.Workload, workloadList())
	case c.Addr == "":
		return bad("address is empty (want host:port)")
	case c.Conns < 1 || c.Conns > 10000:
		return bad("connections %d out of range 1…10000", c.Conns)
	case c.Pipeline < 1 || c.Pipeline > 10000:
		return bad("pipeline %d out of range 1…10000", c.Pipeline)
	case c.Size < 0 || c.Size > maxJobSize:
		return bad("job size %d out of range 0…%d", c.Size, maxJobSize)
	case c.Workload == PutReserveDelete && c.Size < stampLen:
		return bad("job size %d too small for %s: bodies carry a %d-byte timestamp", c.Size, c.Workload, stampLen)
	case c.Tubes < 1 || c.Tubes > 1_000_000:
		return bad("tubes %d out of range 1…1000000", c.Tubes)
	case c.TubePrefix == "" || len(c.TubePrefix) > 180 || strings.ContainsAny(c.TubePrefix, " \r\n"):
		return bad("tube prefix %q must be 1…180 bytes without spaces", c.TubePrefix)
	case (c.Duration > 0) == (c.Count > 0):
		return bad("give exactly one of duration and count")
	case c.Duration < 0 || c.Count < 0 || c.Prefill < 0 || c.Bury < 0 || c.Rate < 0:
		return bad("duration, count, prefill, bury and rate must not be negative")
	case c.Delay < 0 || c.Delay%time.Second != 0:
		return bad("release delay %v must be whole seconds", c.Delay)
	case c.TTR < time.Second || c.TTR%time.Second != 0:
		return bad("TTR %v must be whole seconds, at least 1s", c.TTR)
	case c.EventLoop && !loopSupported:
		return bad("the event loop needs Linux")
	case c.EventLoop && (c.TLS != nil || c.Rate > 0 || (c.Workload != Put && c.Workload != ReserveDelete)):
		return bad("the event loop runs put (without a rate) and reserve-delete over plain TCP only")
	case c.EventLoop && c.Size > maxLoopBody:
		return bad("job size %d too large for the event loop (at most %d)", c.Size, maxLoopBody)
	case c.Progress != nil && c.ProgressEvery <= 0:
		return bad("progress interval %v must be positive", c.ProgressEvery)
	}
	return nil
}

func workloadList() string {
	names := make([]string, len(Workloads))
	for i, w := range Workloads {
		names[i] = string(w)
	}
	return strings.Join(names, ", ")
}

// tubeName returns the name of tube i.
func (c Config) tubeName(i int) string { return fmt.Sprintf("%s-%d", c.TubePrefix, i) }

// usedTubes is how many tubes connections work on.
func (c Config) usedTubes() int { return min(c.Conns, c.Tubes) }

// prefill returns how many jobs to put before a run, in total over the
// used tubes.
func (c Config) prefill() int64 {
	if c.NoPrefill {
		return 0
	}
	switch c.Workload {
	case ReserveDelete:
		if c.Prefill > 0 {
			return int64(c.Prefill)
		}
		if c.Count > 0 {
			return c.Count
		}
		return 200_000
	case ReleaseChurn:
		if c.Prefill > 0 {
			return int64(c.Prefill)
		}
		return int64(max(1000, 2*c.Conns*c.Pipeline))
	}
	return 0
}

// share splits total over n parts as evenly as possible and returns part i.
func share(total int64, n, i int) int64 {
	s := total / int64(n)
	if int64(i) < total%int64(n) {
		s++
	}
	return s
}
