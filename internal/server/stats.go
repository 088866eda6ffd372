package server

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
)

// instanceID identifies this process in stats ("id"), random per process
// as in beanstalkd.
var instanceID = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// The extension hooks of the stats replies; filled from init functions and
// only read afterwards.
var (
	serverStatsHooks []func(st *broker.ServerStats, d *beanstalk.Dict)
	tubeStatsHooks   []func(ts *broker.TubeStats, d *beanstalk.Dict)
	jobStatsHooks    []func(js *broker.JobStats, d *beanstalk.Dict)
)

// AddServerStats registers f to append extension keys to every stats
// reply, after beanstalkd's keys. Call it from an init function.
func AddServerStats(f func(st *broker.ServerStats, d *beanstalk.Dict)) {
	serverStatsHooks = append(serverStatsHooks, f)
}

// AddTubeStats registers f to append extension keys to every stats-tube
// reply, after beanstalkd's keys. Call it from an init function.
func AddTubeStats(f func(ts *broker.TubeStats, d *beanstalk.Dict)) {
	tubeStatsHooks = append(tubeStatsHooks, f)
}

// AddJobStats registers f to append extension keys to every stats-job
// reply, after beanstalkd's keys. Call it from an init function.
func AddJobStats(f func(js *broker.JobStats, d *beanstalk.Dict)) {
	jobStatsHooks = append(jobStatsHooks, f)
}

// statsCounters lists beanstalkd's cmd-* keys in its order.
var statsCounters = []beanstalk.Op{
	beanstalk.OpPut, beanstalk.OpPeek, beanstalk.OpPeekReady, beanstalk.OpPeekDelayed,
	beanstalk.OpPeekBuried, beanstalk.OpReserve, beanstalk.OpReserveWithTimeout,
	beanstalk.OpDelete, beanstalk.OpRelease, beanstalk.OpUse, beanstalk.OpWatch,
	beanstalk.OpIgnore, beanstalk.OpBury, beanstalk.OpKick, beanstalk.OpTouch,
	beanstalk.OpStats, beanstalk.OpStatsJob, beanstalk.OpStatsTube, beanstalk.OpListTubes,
	beanstalk.OpListTubeUsed, beanstalk.OpListTubesWatched, beanstalk.OpPauseTube,
}

// writeStats fills d with the stats reply: beanstalkd 1.12's keys in its
// order, then the cmd-* counters of extension commands, then the hooks'
// keys and Config.ExtraStats.
func (s *Server) writeStats(d *beanstalk.Dict) {
	st := s.b.Stats()
	d.Uint("current-jobs-urgent", uint64(st.CurrentJobsUrgent))
	d.Uint("current-jobs-ready", uint64(st.CurrentJobsReady))
	d.Uint("current-jobs-reserved", uint64(st.CurrentJobsReserved))
	d.Uint("current-jobs-delayed", uint64(st.CurrentJobsDelayed))
	d.Uint("current-jobs-buried", uint64(st.CurrentJobsBuried))
	for _, op := range statsCounters {
		d.Uint(cmdKeys[op], s.counts[op].Load())
	}
	d.Uint("job-timeouts", st.JobTimeouts)
	d.Uint("total-jobs", st.TotalJobs)
	d.Uint("max-job-size", uint64(s.cfg.MaxJobSize))
	d.Uint("current-tubes", uint64(st.CurrentTubes))
	d.Uint("current-connections", uint64(st.CurrentConnections))
	d.Uint("current-producers", uint64(st.CurrentProducers))
	d.Uint("current-workers", uint64(st.CurrentWorkers))
	d.Uint("current-waiting", uint64(st.CurrentWaiting))
	d.Uint("total-connections", st.TotalConnections)
	d.Int("pid", int64(os.Getpid()))
	d.Quoted("version", s.cfg.Version)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	d.Micros("rusage-utime", time.Duration(ru.Utime.Nano()))
	d.Micros("rusage-stime", time.Duration(ru.Stime.Nano()))
	d.Seconds("uptime", st.Uptime)
	bl := BinlogStats{MaxSize: 10 << 20}
	if s.cfg.Binlog != nil {
		bl = s.cfg.Binlog()
	}
	d.Int("binlog-oldest-index", bl.OldestIndex)
	d.Int("binlog-current-index", bl.CurrentIndex)
	d.Int("binlog-records-migrated", bl.RecordsMigrated)
	d.Int("binlog-records-written", bl.RecordsWritten)
	d.Int("binlog-max-size", bl.MaxSize)
	d.Bool("draining", st.Draining)
	d.Str("id", instanceID)
	d.Str("hostname", host.name)
	d.Str("os", host.os)
	d.Str("platform", host.platform)
	for op := beanstalk.OpPauseTube + 1; op < beanstalk.MaxOps && op.String() != ""; op++ {
		d.Uint(cmdKey(op), s.counts[op].Load())
	}
	d.Uint("total-connections-refused", s.refused.Load())
	for _, f := range serverStatsHooks {
		f(&st, d)
	}
	if s.cfg.ExtraStats != nil {
		d.Add(s.cfg.ExtraStats()...)
	}
}

// Stats returns what the stats command answers, as keys and values in the
// reply's order (the quotes of the version removed): for callers that
// show the server's stats elsewhere, such as the admin interface.
func (s *Server) Stats() []beanstalk.KeyValue {
	var d beanstalk.Dict
	s.writeStats(&d)
	return d.KeyValues()
}

// cmdKey returns "cmd-<name>" for op (extensions registered after this
// package's initialization included).
func cmdKey(op beanstalk.Op) string {
	if k := cmdKeys[op]; k != "" {
		return k
	}
	return "cmd-" + op.String()
}

// cmdKeys holds "cmd-<name>" for the Ops registered when the package is
// initialized.
var cmdKeys = func() (k [beanstalk.MaxOps]string) {
	for op := beanstalk.Op(1); op < beanstalk.MaxOps; op++ {
		if n := op.String(); n != "" {
			k[op] = "cmd-" + n
		}
	}
	return k
}()

func handleStats(c *Conn, _ *beanstalk.Command) bool {
	d := c.Dict()
	c.srv.writeStats(d)
	c.w.OK(d.Bytes())
	return true
}

func handleStatsTube(c *Conn, cmd *beanstalk.Command) bool {
	ts, err := c.srv.b.StatsTube(cmd.Tube)
	if err != nil {
		return c.ReplyError(err)
	}
	d := c.Dict()
	d.Str("name", ts.Name)
	d.Uint("current-jobs-urgent", uint64(ts.CurrentJobsUrgent))
	d.Uint("current-jobs-ready", uint64(ts.CurrentJobsReady))
	d.Uint("current-jobs-reserved", uint64(ts.CurrentJobsReserved))
	d.Uint("current-jobs-delayed", uint64(ts.CurrentJobsDelayed))
	d.Uint("current-jobs-buried", uint64(ts.CurrentJobsBuried))
	d.Uint("total-jobs", ts.TotalJobs)
	d.Uint("current-using", uint64(ts.CurrentUsing))
	d.Uint("current-watching", uint64(ts.CurrentWatching))
	d.Uint("current-waiting", uint64(ts.CurrentWaiting))
	d.Uint("cmd-delete", ts.CmdDelete)
	d.Uint("cmd-pause-tube", ts.CmdPauseTube)
	d.Seconds("pause", ts.Pause)
	d.Seconds("pause-time-left", ts.PauseTimeLeft)
	for _, f := range tubeStatsHooks {
		f(&ts, d)
	}
	c.w.OK(d.Bytes())
	return true
}

// writeJobStats writes every key of a stats-job reply, beanstalkd's and
// the extensions', in the same order.
func writeJobStats(js *broker.JobStats, d *beanstalk.Dict) {
	d.Uint("id", uint64(js.ID))
	d.Str("tube", js.Tube)
	d.Str("state", js.State.String())
	d.Uint("pri", uint64(js.Priority))
	d.Seconds("age", js.Age)
	d.Seconds("delay", js.Delay)
	d.Seconds("ttr", js.TTR)
	d.Seconds("time-left", js.TimeLeft)
	d.Int("file", int64(js.File))
	d.Uint("reserves", uint64(js.Reserves))
	d.Uint("timeouts", uint64(js.Timeouts))
	d.Uint("releases", uint64(js.Releases))
	d.Uint("buries", uint64(js.Buries))
	d.Uint("kicks", uint64(js.Kicks))
	for _, f := range jobStatsHooks {
		f(js, d)
	}
}

func handleStatsJob(c *Conn, cmd *beanstalk.Command) bool {
	js, err := c.srv.b.StatsJob(job.ID(cmd.ID))
	if err != nil {
		return c.ReplyError(err)
	}
	d := c.Dict()
	writeJobStats(&js, d)
	c.w.OK(d.Bytes())
	return true
}
