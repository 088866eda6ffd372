package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
)

// commandOps returns every command with a name: beanstalkd's and
// Reprieve's extensions, in Op order.
func commandOps() []beanstalk.Op {
	var ops []beanstalk.Op
	for op := beanstalk.Op(1); op < beanstalk.MaxOps; op++ {
		if op.String() != "" {
			ops = append(ops, op)
		}
	}
	return ops
}

// statsObject returns the server's stats under the keys and in the order
// of the beanstalk stats reply, numbers and booleans as JSON ones; only the
// broker's part when there is no Stats source.
func (h *Handler) statsObject() object {
	var o object
	if h.cfg.Stats == nil {
		st := h.b.Stats()
		o.add("current-jobs-urgent", st.CurrentJobsUrgent)
		o.add("current-jobs-ready", st.CurrentJobsReady)
		o.add("current-jobs-reserved", st.CurrentJobsReserved)
		o.add("current-jobs-delayed", st.CurrentJobsDelayed)
		o.add("current-jobs-buried", st.CurrentJobsBuried)
		return o
	}
	for _, kv := range h.cfg.Stats() {
		if textKeys[kv.Key] {
			o.add(kv.Key, kv.Value)
		} else {
			o.add(kv.Key, scalar(kv.Value))
		}
	}
	return o
}

// textKeys are the stats keys whose values stay text even when they look
// like numbers (a host named 1234, version "2").
var textKeys = map[string]bool{"version": true, "id": true, "hostname": true, "os": true, "platform": true}

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
	if f, err := strconv.ParseFloat(s, 64); err == nil && strings.Trim(s, "0123456789.") == "" {
		return f
	}
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return b
	}
	return s
}

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
	o.add("limit-concurrency", ts.LimitConcurrency)
	o.add("limit-rate", ts.LimitRate)
	o.add("limit-burst", ts.LimitBurst)
	o.add("unique", ts.Unique)
	o.add("total-held-by-concurrency", ts.HeldByConcurrency)
	o.add("total-held-by-rate", ts.HeldByRate)
	o.add("total-duplicates", ts.Duplicates)
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
