package admin

import (
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/server"
)

// beanstalkCounters lists beanstalkd's cmd-* keys in the order of its
// stats reply (the server's own list; extension commands follow it).
var beanstalkCounters = []beanstalk.Op{
	beanstalk.OpPut, beanstalk.OpPeek, beanstalk.OpPeekReady, beanstalk.OpPeekDelayed,
	beanstalk.OpPeekBuried, beanstalk.OpReserve, beanstalk.OpReserveWithTimeout,
	beanstalk.OpDelete, beanstalk.OpRelease, beanstalk.OpUse, beanstalk.OpWatch,
	beanstalk.OpIgnore, beanstalk.OpBury, beanstalk.OpKick, beanstalk.OpTouch,
	beanstalk.OpStats, beanstalk.OpStatsJob, beanstalk.OpStatsTube, beanstalk.OpListTubes,
	beanstalk.OpListTubeUsed, beanstalk.OpListTubesWatched, beanstalk.OpPauseTube,
}

// extensionCounters returns the commands after pause-tube that have a
// name: Reprieve's extensions, in the stats reply's order.
func extensionCounters() []beanstalk.Op {
	var ops []beanstalk.Op
	for op := beanstalk.OpPauseTube + 1; op < beanstalk.MaxOps && op.String() != ""; op++ {
		ops = append(ops, op)
	}
	return ops
}

// statsObject returns the server's stats under the keys and in the order
// of the beanstalk stats reply, numbers as JSON numbers. The wal-* keys
// keep their text unless they are numbers or booleans.
func (h *Handler) statsObject() object {
	st := h.b.Stats()
	var o object
	o.add("current-jobs-urgent", st.CurrentJobsUrgent)
	o.add("current-jobs-ready", st.CurrentJobsReady)
	o.add("current-jobs-reserved", st.CurrentJobsReserved)
	o.add("current-jobs-delayed", st.CurrentJobsDelayed)
	o.add("current-jobs-buried", st.CurrentJobsBuried)
	if h.cfg.Commands != nil {
		for _, op := range beanstalkCounters {
			o.add("cmd-"+op.String(), h.cfg.Commands(op))
		}
	}
	o.add("job-timeouts", st.JobTimeouts)
	o.add("total-jobs", st.TotalJobs)
	o.add("max-job-size", h.cfg.MaxJobSize)
	o.add("current-tubes", st.CurrentTubes)
	o.add("current-connections", st.CurrentConnections)
	o.add("current-producers", st.CurrentProducers)
	o.add("current-workers", st.CurrentWorkers)
	o.add("current-waiting", st.CurrentWaiting)
	o.add("total-connections", st.TotalConnections)
	o.add("pid", os.Getpid())
	o.add("version", h.cfg.Version)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	o.add("rusage-utime", micros(time.Duration(ru.Utime.Nano())))
	o.add("rusage-stime", micros(time.Duration(ru.Stime.Nano())))
	o.add("uptime", seconds(st.Uptime))
	bl := h.binlog()
	o.add("binlog-oldest-index", bl.OldestIndex)
	o.add("binlog-current-index", bl.CurrentIndex)
	o.add("binlog-records-migrated", bl.RecordsMigrated)
	o.add("binlog-records-written", bl.RecordsWritten)
	o.add("binlog-max-size", bl.MaxSize)
	o.add("draining", st.Draining)
	o.add("hostname", host.name)
	o.add("os", host.os)
	o.add("platform", host.platform)
	if h.cfg.Commands != nil {
		for _, op := range extensionCounters() {
			o.add("cmd-"+op.String(), h.cfg.Commands(op))
		}
	}
	o.add("total-failures", st.Failures)
	o.add("total-gave-up", st.GaveUp)
	o.add("total-expired", st.Expired)
	for _, kv := range h.extraStats() {
		o.add(kv.Key, scalar(kv.Value))
	}
	return o
}

// binlog returns the binlog-* values, those of a server without a log
// when there is no source.
func (h *Handler) binlog() server.BinlogStats {
	if h.cfg.Binlog == nil {
		return server.BinlogStats{MaxSize: 10 << 20}
	}
	return h.cfg.Binlog()
}

func (h *Handler) extraStats() []beanstalk.KeyValue {
	if h.cfg.ExtraStats == nil {
		return nil
	}
	return h.cfg.ExtraStats()
}

// scalar gives a stats value as a JSON number or boolean when it is one,
// else as the text itself.
func scalar(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n
	}
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return b
	}
	return s
}

// micros gives a duration in seconds with microsecond precision.
func micros(d time.Duration) float64 { return float64(d/time.Microsecond) / 1e6 }

// tubeObject returns a tube's stats under the keys of stats-tube.
func tubeObject(ts broker.TubeStats) object {
	var o object
	o.add("name", ts.Name)
	o.add("current-jobs-urgent", ts.CurrentJobsUrgent)
	o.add("current-jobs-ready", ts.CurrentJobsReady)
	o.add("current-jobs-reserved", ts.CurrentJobsReserved)
	o.add("current-jobs-delayed", ts.CurrentJobsDelayed)
	o.add("current-jobs-buried", ts.CurrentJobsBuried)
	o.add("total-jobs", ts.TotalJobs)
	o.add("current-using", ts.CurrentUsing)
	o.add("current-watching", ts.CurrentWatching)
	o.add("current-waiting", ts.CurrentWaiting)
	o.add("cmd-delete", ts.CmdDelete)
	o.add("cmd-pause-tube", ts.CmdPauseTube)
	o.add("pause", seconds(ts.Pause))
	o.add("pause-time-left", seconds(ts.PauseTimeLeft))
	o.add("total-failures", ts.Failures)
	o.add("total-gave-up", ts.GaveUp)
	o.add("total-expired", ts.Expired)
	o.add("current-buried-bytes", ts.BuriedBytes)
	return o
}

// jobObject returns a job's stats under the keys of stats-job and its
// failure-history extension keys; times are RFC 3339 in UTC, null when
// they never happened.
func jobObject(js *broker.JobStats) object {
	f := &js.Failure
	origin := f.Origin
	if origin == "" {
		origin = js.Tube
	}
	var o object
	o.add("id", uint64(js.ID))
	o.add("tube", js.Tube)
	o.add("state", js.State.String())
	o.add("pri", js.Priority)
	o.add("age", seconds(js.Age))
	o.add("delay", seconds(js.Delay))
	o.add("ttr", seconds(js.TTR))
	o.add("time-left", seconds(js.TimeLeft))
	o.add("file", js.File)
	o.add("reserves", js.Reserves)
	o.add("timeouts", js.Timeouts)
	o.add("releases", js.Releases)
	o.add("buries", js.Buries)
	o.add("kicks", js.Kicks)
	o.add("size", js.Size)
	o.add("failures", f.Attempts)
	o.add("first-error", f.FirstError)
	o.add("last-error", f.LastError)
	o.add("first-failure", stamp(f.FirstAt))
	o.add("last-failure", stamp(f.LastAt))
	o.add("origin", origin)
	o.add("gave-up", f.GaveUp)
	o.add("revivals", f.Kicks)
	o.add("last-revival", stamp(f.KickedAt))
	return o
}

// stamp gives t in RFC 3339 UTC, nil (JSON null) for the zero time.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// serverStats answers GET /api/v1/stats.
func (h *Handler) serverStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.statsObject())
}

// tubes answers GET /api/v1/tubes: every tube's stats, in creation order.
func (h *Handler) tubes(w http.ResponseWriter, _ *http.Request) {
	list := []object{}
	for _, name := range h.b.ListTubes() {
		ts, err := h.b.StatsTube(name)
		if err != nil {
			continue // dropped since the list was taken
		}
		list = append(list, tubeObject(ts))
	}
	writeJSON(w, http.StatusOK, object{{"tubes", list}})
}

// tube answers GET /api/v1/tubes/{tube}.
func (h *Handler) tube(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tube")
	ts, err := h.b.StatsTube(name)
	if err != nil {
		engineError(w, err, "tube "+strconv.Quote(name))
		return
	}
	writeJSON(w, http.StatusOK, tubeObject(ts))
}

// defaultPage is the page size of job lists when limit is not given.
const defaultPage = 100

// tubeJobs answers GET /api/v1/tubes/{tube}/jobs?state=&after=&limit=:
// one page of the tube's jobs in a state (buried by default), lowest id
// first, with next_after to ask for the next page (null at the end).
func (h *Handler) tubeJobs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tube")
	stateName := r.FormValue("state")
	if stateName == "" {
		stateName = "buried"
	}
	st, ok := parseState(stateName)
	if !ok {
		badParam(w, "state", stateName, "ready, delayed, reserved, buried or all")
		return
	}
	after, ok := uintParam(w, r, "after", 0, 1<<63-1)
	if !ok {
		return
	}
	limit, ok := uintParam(w, r, "limit", defaultPage, broker.MaxListLimit)
	if !ok {
		return
	}
	if limit == 0 {
		badParam(w, "limit", r.FormValue("limit"), "a whole number from 1 to "+strconv.Itoa(broker.MaxListLimit))
		return
	}
	jobs, err := h.b.ListJobs(name, st, job.ID(after), int(limit))
	if err != nil {
		engineError(w, err, "tube "+strconv.Quote(name))
		return
	}
	list := make([]object, len(jobs))
	for i := range jobs {
		list[i] = jobObject(&jobs[i])
	}
	var next any
	if len(jobs) == int(limit) {
		next = uint64(jobs[len(jobs)-1].ID)
	}
	writeJSON(w, http.StatusOK, object{
		{"tube", name}, {"state", stateName}, {"jobs", list}, {"next_after", next},
	})
}

// parseState reads a state name; "all" is 0, every state.
func parseState(s string) (job.State, bool) {
	for _, st := range []job.State{job.Ready, job.Delayed, job.Reserved, job.Buried} {
		if s == st.String() {
			return st, true
		}
	}
	return 0, s == "all"
}
