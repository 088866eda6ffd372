package admin

import (
	"net/http"
	"strconv"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/stats"
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
// of the beanstalk stats reply, typed as stats defines them; only the
// engine's job counts when there is no Stats source.
func (h *Handler) statsObject() object {
	if h.cfg.Stats == nil {
		snap := stats.Server{Engine: h.b.Stats()}
		return entriesObject(stats.Entries(stats.Jobs, &snap))
	}
	return entriesObject(h.cfg.Stats())
}

// entriesObject returns es as a JSON object, in order.
func entriesObject(es []stats.Entry) object {
	o := make(object, len(es))
	for i, e := range es {
		o[i] = field{e.Key, e.Value.JSON()}
	}
	return o
}

func (h *Handler) extraStats() []beanstalk.KeyValue {
	if h.cfg.ExtraStats == nil {
		return nil
	}
	return h.cfg.ExtraStats()
}

// tubeObject returns a tube's stats under the keys of stats-tube.
func tubeObject(ts broker.TubeStats) object { return entriesObject(stats.Entries(stats.Tube, &ts)) }

// jobObject returns a job's stats under the keys of stats-job, with its
// failure-history extension keys; times are RFC 3339 in UTC, null when
// they never happened.
func jobObject(js *broker.JobStats) object { return entriesObject(stats.Entries(stats.Job, js)) }

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
