package stats

import (
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
)

// Field is one key of a reply about a T and how to get its value.
type Field[T any] struct {
	Key string
	Get func(*T) Value
}

// Entry is one key and value of a reply, in order.
type Entry struct {
	Key   string
	Value Value
}

// Write adds every field of v to d, in order.
func Write[T any](d *beanstalk.Dict, fields []Field[T], v *T) {
	for _, f := range fields {
		f.Get(v).write(d, f.Key)
	}
}

// Entries returns every field of v, in order.
func Entries[T any](fields []Field[T], v *T) []Entry {
	es := make([]Entry, len(fields))
	for i, f := range fields {
		es[i] = Entry{f.Key, f.Get(v)}
	}
	return es
}

// WriteEntries adds es to d, in order.
func WriteEntries(d *beanstalk.Dict, es []Entry) {
	for _, e := range es {
		e.Value.write(d, e.Key)
	}
}

// Tube is the stats-tube reply.
var Tube = []Field[broker.TubeStats]{
	{"name", func(t *broker.TubeStats) Value { return Text(t.Name) }},
	{"current-jobs-urgent", func(t *broker.TubeStats) Value { return Uint(t.CurrentJobsUrgent) }},
	{"current-jobs-ready", func(t *broker.TubeStats) Value { return Uint(t.CurrentJobsReady) }},
	{"current-jobs-reserved", func(t *broker.TubeStats) Value { return Uint(t.CurrentJobsReserved) }},
	{"current-jobs-delayed", func(t *broker.TubeStats) Value { return Uint(t.CurrentJobsDelayed) }},
	{"current-jobs-buried", func(t *broker.TubeStats) Value { return Uint(t.CurrentJobsBuried) }},
	{"total-jobs", func(t *broker.TubeStats) Value { return Uint(t.TotalJobs) }},
	{"current-using", func(t *broker.TubeStats) Value { return Uint(t.CurrentUsing) }},
	{"current-watching", func(t *broker.TubeStats) Value { return Uint(t.CurrentWatching) }},
	{"current-waiting", func(t *broker.TubeStats) Value { return Uint(t.CurrentWaiting) }},
	{"cmd-delete", func(t *broker.TubeStats) Value { return Uint(t.CmdDelete) }},
	{"cmd-pause-tube", func(t *broker.TubeStats) Value { return Uint(t.CmdPauseTube) }},
	{"pause", func(t *broker.TubeStats) Value { return Seconds(t.Pause) }},
	{"pause-time-left", func(t *broker.TubeStats) Value { return Seconds(t.PauseTimeLeft) }},
	// Extensions: the tube's failure counters and buried bytes.
	{"total-failures", func(t *broker.TubeStats) Value { return Uint(t.Failures) }},
	{"total-gave-up", func(t *broker.TubeStats) Value { return Uint(t.GaveUp) }},
	{"total-expired", func(t *broker.TubeStats) Value { return Uint(t.Expired) }},
	{"current-buried-bytes", func(t *broker.TubeStats) Value { return Uint(t.BuriedBytes) }},
	// Extensions: flow control (docs/policies.md): the tube's limits and
	// what they held back. The jobs out against limit-concurrency are
	// current-jobs-reserved.
	{"limit-concurrency", func(t *broker.TubeStats) Value { return Uint(t.LimitConcurrency) }},
	{"limit-rate", func(t *broker.TubeStats) Value { return Quoted(t.LimitRate) }},
	{"limit-burst", func(t *broker.TubeStats) Value { return Uint(t.LimitBurst) }},
	{"unique", func(t *broker.TubeStats) Value { return Quoted(t.Unique) }},
	{"total-held-by-concurrency", func(t *broker.TubeStats) Value { return Uint(t.HeldByConcurrency) }},
	{"total-held-by-rate", func(t *broker.TubeStats) Value { return Uint(t.HeldByRate) }},
	{"total-duplicates", func(t *broker.TubeStats) Value { return Uint(t.Duplicates) }},
}

// Job is the stats-job reply (and each entry of list-jobs).
var Job = []Field[broker.JobStats]{
	{"id", func(j *broker.JobStats) Value { return Uint(uint64(j.ID)) }},
	{"tube", func(j *broker.JobStats) Value { return Text(j.Tube) }},
	{"state", func(j *broker.JobStats) Value { return Text(j.State.String()) }},
	{"pri", func(j *broker.JobStats) Value { return Uint(j.Priority) }},
	{"age", func(j *broker.JobStats) Value { return Seconds(j.Age) }},
	{"delay", func(j *broker.JobStats) Value { return Seconds(j.Delay) }},
	{"ttr", func(j *broker.JobStats) Value { return Seconds(j.TTR) }},
	{"time-left", func(j *broker.JobStats) Value { return Seconds(j.TimeLeft) }},
	{"file", func(j *broker.JobStats) Value { return Int(j.File) }},
	{"reserves", func(j *broker.JobStats) Value { return Uint(j.Reserves) }},
	{"timeouts", func(j *broker.JobStats) Value { return Uint(j.Timeouts) }},
	{"releases", func(j *broker.JobStats) Value { return Uint(j.Releases) }},
	{"buries", func(j *broker.JobStats) Value { return Uint(j.Buries) }},
	{"kicks", func(j *broker.JobStats) Value { return Uint(j.Kicks) }},
	// Extensions: the job's size and failure history. Texts are quoted
	// (errors may hold anything).
	{"size", func(j *broker.JobStats) Value { return Uint(j.Size) }},
	{"failures", func(j *broker.JobStats) Value { return Uint(j.Failure.Attempts) }},
	{"first-error", func(j *broker.JobStats) Value { return Quoted(j.Failure.FirstError) }},
	{"last-error", func(j *broker.JobStats) Value { return Quoted(j.Failure.LastError) }},
	{"first-failure", func(j *broker.JobStats) Value { return Time(j.Failure.FirstAt) }},
	{"last-failure", func(j *broker.JobStats) Value { return Time(j.Failure.LastAt) }},
	{"origin", func(j *broker.JobStats) Value {
		if j.Failure.Origin == "" {
			return Text(j.Tube)
		}
		return Text(j.Failure.Origin)
	}},
	{"gave-up", func(j *broker.JobStats) Value { return Quoted(j.Failure.GaveUp) }},
	{"revivals", func(j *broker.JobStats) Value { return Uint(j.Failure.Kicks) }},
	{"last-revival", func(j *broker.JobStats) Value { return Time(j.Failure.KickedAt) }},
}

// Binlog is the durable log's part of the stats reply, under beanstalkd's
// binlog-* keys.
type Binlog struct {
	OldestIndex, CurrentIndex       int64
	RecordsMigrated, RecordsWritten int64
	MaxSize                         int64
}

// Server is what the stats reply reports, gathered at one moment: the
// engine's counts and the server's own.
type Server struct {
	Engine broker.ServerStats
	// Commands gives how often a command ran (the cmd-* keys).
	Commands             func(beanstalk.Op) uint64
	MaxJobSize           int
	PID                  int
	Version              string
	UserTime, SystemTime time.Duration
	Binlog               Binlog
	// ID identifies the process; Hostname, OS and Platform the machine.
	ID, Hostname, OS, Platform string
	// Refused counts connections refused at the connection limit.
	Refused uint64
}

// Jobs is the engine's job counts, the first keys of the stats reply.
var Jobs = []Field[Server]{
	{"current-jobs-urgent", func(s *Server) Value { return Uint(s.Engine.CurrentJobsUrgent) }},
	{"current-jobs-ready", func(s *Server) Value { return Uint(s.Engine.CurrentJobsReady) }},
	{"current-jobs-reserved", func(s *Server) Value { return Uint(s.Engine.CurrentJobsReserved) }},
	{"current-jobs-delayed", func(s *Server) Value { return Uint(s.Engine.CurrentJobsDelayed) }},
	{"current-jobs-buried", func(s *Server) Value { return Uint(s.Engine.CurrentJobsBuried) }},
}

// ServerFields is the stats reply: Jobs, beanstalkd's cmd-* counters in
// its order, the rest of beanstalkd's keys, then the cmd-* counters of the
// extension commands, the refused connections and the engine's failure
// counters.
var ServerFields = func() []Field[Server] {
	fs := append([]Field[Server](nil), Jobs...)
	fs = append(fs, commands(beanstalk.OpPut, beanstalk.OpPeek, beanstalk.OpPeekReady, beanstalk.OpPeekDelayed,
		beanstalk.OpPeekBuried, beanstalk.OpReserve, beanstalk.OpReserveWithTimeout,
		beanstalk.OpDelete, beanstalk.OpRelease, beanstalk.OpUse, beanstalk.OpWatch,
		beanstalk.OpIgnore, beanstalk.OpBury, beanstalk.OpKick, beanstalk.OpTouch,
		beanstalk.OpStats, beanstalk.OpStatsJob, beanstalk.OpStatsTube, beanstalk.OpListTubes,
		beanstalk.OpListTubeUsed, beanstalk.OpListTubesWatched, beanstalk.OpPauseTube)...)
	fs = append(fs, []Field[Server]{
		{"job-timeouts", func(s *Server) Value { return Uint(s.Engine.JobTimeouts) }},
		{"total-jobs", func(s *Server) Value { return Uint(s.Engine.TotalJobs) }},
		{"max-job-size", func(s *Server) Value { return Uint(s.MaxJobSize) }},
		{"current-tubes", func(s *Server) Value { return Uint(s.Engine.CurrentTubes) }},
		{"current-connections", func(s *Server) Value { return Uint(s.Engine.CurrentConnections) }},
		{"current-producers", func(s *Server) Value { return Uint(s.Engine.CurrentProducers) }},
		{"current-workers", func(s *Server) Value { return Uint(s.Engine.CurrentWorkers) }},
		{"current-waiting", func(s *Server) Value { return Uint(s.Engine.CurrentWaiting) }},
		{"total-connections", func(s *Server) Value { return Uint(s.Engine.TotalConnections) }},
		{"pid", func(s *Server) Value { return Int(s.PID) }},
		{"version", func(s *Server) Value { return Quoted(s.Version) }},
		{"rusage-utime", func(s *Server) Value { return Micros(s.UserTime) }},
		{"rusage-stime", func(s *Server) Value { return Micros(s.SystemTime) }},
		{"uptime", func(s *Server) Value { return Seconds(s.Engine.Uptime) }},
		{"binlog-oldest-index", func(s *Server) Value { return Int(s.Binlog.OldestIndex) }},
		{"binlog-current-index", func(s *Server) Value { return Int(s.Binlog.CurrentIndex) }},
		{"binlog-records-migrated", func(s *Server) Value { return Int(s.Binlog.RecordsMigrated) }},
		{"binlog-records-written", func(s *Server) Value { return Int(s.Binlog.RecordsWritten) }},
		{"binlog-max-size", func(s *Server) Value { return Int(s.Binlog.MaxSize) }},
		{"draining", func(s *Server) Value { return Bool(s.Engine.Draining) }},
		{"id", func(s *Server) Value { return Text(s.ID) }},
		{"hostname", func(s *Server) Value { return Text(s.Hostname) }},
		{"os", func(s *Server) Value { return Text(s.OS) }},
		{"platform", func(s *Server) Value { return Text(s.Platform) }},
	}...)
	var ext []beanstalk.Op
	for op := beanstalk.OpPauseTube + 1; op < beanstalk.MaxOps && op.String() != ""; op++ {
		ext = append(ext, op)
	}
	fs = append(fs, commands(ext...)...)
	return append(fs, []Field[Server]{
		{"total-connections-refused", func(s *Server) Value { return Uint(s.Refused) }},
		{"total-failures", func(s *Server) Value { return Uint(s.Engine.Failures) }},
		{"total-gave-up", func(s *Server) Value { return Uint(s.Engine.GaveUp) }},
		{"total-expired", func(s *Server) Value { return Uint(s.Engine.Expired) }},
	}...)
}()

// commands returns the cmd-<name> field of each op.
func commands(ops ...beanstalk.Op) []Field[Server] {
	fs := make([]Field[Server], len(ops))
	for i, op := range ops {
		fs[i] = Field[Server]{"cmd-" + op.String(), func(s *Server) Value { return Uint(s.Commands(op)) }}
	}
	return fs
}
