package admin

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/reprieve/reprieve/internal/broker"
)

// This file writes /metrics in the Prometheus text exposition format
// (version 0.0.4): every family has HELP and TYPE lines, counters end in
// _total, label values are escaped. docs/admin.md lists the families.

// expo builds one exposition.
type expo struct {
	b bytes.Buffer
}

// family starts a metric family.
func (e *expo) family(name, typ, help string) {
	e.b.WriteString("# HELP ")
	e.b.WriteString(name)
	e.b.WriteByte(' ')
	e.b.WriteString(helpEscaper.Replace(help))
	e.b.WriteString("\n# TYPE ")
	e.b.WriteString(name)
	e.b.WriteByte(' ')
	e.b.WriteString(typ)
	e.b.WriteByte('\n')
}

// sample writes one sample; labels alternate names and values.
func (e *expo) sample(name string, v float64, labels ...string) {
	e.b.WriteString(name)
	if len(labels) > 0 {
		e.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.b.WriteByte(',')
			}
			e.b.WriteString(labels[i])
			e.b.WriteString(`="`)
			e.b.WriteString(labelEscaper.Replace(labels[i+1]))
			e.b.WriteByte('"')
		}
		e.b.WriteByte('}')
	}
	e.b.WriteByte(' ')
	e.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	e.b.WriteByte('\n')
}

// one writes a family with a single unlabelled sample.
func (e *expo) one(name, typ, help string, v float64) {
	e.family(name, typ, help)
	e.sample(name, v)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metrics answers GET /metrics.
func (h *Handler) metrics(w http.ResponseWriter, _ *http.Request) {
	var e expo
	h.writeServerMetrics(&e)
	h.writeTubeMetrics(&e)
	h.writeLogMetrics(&e)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(e.b.Bytes())
}

// writeServerMetrics writes the server's totals.
func (h *Handler) writeServerMetrics(e *expo) {
	st := h.b.Stats()
	e.family("reprieve_jobs", "gauge", "Jobs in the server by state.")
	e.sample("reprieve_jobs", float64(st.CurrentJobsReady), "state", "ready")
	e.sample("reprieve_jobs", float64(st.CurrentJobsReserved), "state", "reserved")
	e.sample("reprieve_jobs", float64(st.CurrentJobsDelayed), "state", "delayed")
	e.sample("reprieve_jobs", float64(st.CurrentJobsBuried), "state", "buried")
	e.one("reprieve_jobs_urgent", "gauge", "Ready jobs with a priority below 1024.", float64(st.CurrentJobsUrgent))
	e.one("reprieve_jobs_total", "counter", "Jobs put since the server started.", float64(st.TotalJobs))
	e.one("reprieve_job_timeouts_total", "counter", "Reserved jobs whose TTR expired.", float64(st.JobTimeouts))
	if h.cfg.Commands != nil {
		e.family("reprieve_commands_total", "counter", "Protocol commands run, by command (the cmd-* stats).")
		for _, op := range commandOps() {
			e.sample("reprieve_commands_total", float64(h.cfg.Commands(op)), "cmd", op.String())
		}
	}
	e.one("reprieve_connections", "gauge", "Open client connections.", float64(st.CurrentConnections))
	e.one("reprieve_connections_total", "counter", "Client connections accepted since the server started.", float64(st.TotalConnections))
	e.one("reprieve_producers", "gauge", "Open connections that have put a job.", float64(st.CurrentProducers))
	e.one("reprieve_workers", "gauge", "Open connections that have reserved a job.", float64(st.CurrentWorkers))
	e.one("reprieve_waiting", "gauge", "Connections blocked in a reserve.", float64(st.CurrentWaiting))
	e.one("reprieve_tubes", "gauge", "Tubes that exist.", float64(st.CurrentTubes))
	e.one("reprieve_draining", "gauge", "1 while drain mode is on (puts are refused).", b2f(st.Draining))
	e.one("reprieve_uptime_seconds", "gauge", "Seconds since the server started.", st.Uptime.Seconds())
	e.one("reprieve_failures_total", "counter", "Job failures: fail commands and TTR expiries on tubes with a retry policy.", float64(st.Failures))
	e.one("reprieve_gave_up_total", "counter", "Jobs a failure policy gave up on.", float64(st.GaveUp))
	e.one("reprieve_expired_total", "counter", "Jobs dropped by retention or ready-expiry.", float64(st.Expired))
}

// writeTubeMetrics writes one sample per tube of each tube family.
func (h *Handler) writeTubeMetrics(e *expo) {
	var tubes []broker.TubeStats
	for _, name := range h.b.ListTubes() {
		if ts, err := h.b.StatsTube(name); err == nil {
			tubes = append(tubes, ts)
		}
	}
	fam := func(name, typ, help string, v func(ts *broker.TubeStats) float64) {
		e.family(name, typ, help)
		for i := range tubes {
			e.sample(name, v(&tubes[i]), "tube", tubes[i].Name)
		}
	}
	e.family("reprieve_tube_jobs", "gauge", "Jobs in a tube by state.")
	for i := range tubes {
		ts := &tubes[i]
		e.sample("reprieve_tube_jobs", float64(ts.CurrentJobsReady), "tube", ts.Name, "state", "ready")
		e.sample("reprieve_tube_jobs", float64(ts.CurrentJobsReserved), "tube", ts.Name, "state", "reserved")
		e.sample("reprieve_tube_jobs", float64(ts.CurrentJobsDelayed), "tube", ts.Name, "state", "delayed")
		e.sample("reprieve_tube_jobs", float64(ts.CurrentJobsBuried), "tube", ts.Name, "state", "buried")
	}
	fam("reprieve_tube_jobs_urgent", "gauge", "Ready jobs of a tube with a priority below 1024.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CurrentJobsUrgent) })
	fam("reprieve_tube_jobs_total", "counter", "Jobs put into a tube since it was created.",
		func(ts *broker.TubeStats) float64 { return float64(ts.TotalJobs) })
	fam("reprieve_tube_using", "gauge", "Connections using a tube.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CurrentUsing) })
	fam("reprieve_tube_watching", "gauge", "Connections watching a tube.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CurrentWatching) })
	fam("reprieve_tube_waiting", "gauge", "Connections blocked in a reserve on a tube.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CurrentWaiting) })
	fam("reprieve_tube_deletes_total", "counter", "Jobs of a tube deleted.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CmdDelete) })
	fam("reprieve_tube_pauses_total", "counter", "pause-tube commands on a tube.",
		func(ts *broker.TubeStats) float64 { return float64(ts.CmdPauseTube) })
	fam("reprieve_tube_paused", "gauge", "1 while a tube is paused.",
		func(ts *broker.TubeStats) float64 { return b2f(ts.PauseTimeLeft > 0) })
	fam("reprieve_tube_pause_left_seconds", "gauge", "Seconds until a tube's pause ends (0: not paused).",
		func(ts *broker.TubeStats) float64 { return ts.PauseTimeLeft.Seconds() })
	fam("reprieve_tube_failures_total", "counter", "Failures of a tube's jobs.",
		func(ts *broker.TubeStats) float64 { return float64(ts.Failures) })
	fam("reprieve_tube_gave_up_total", "counter", "Jobs of a tube its failure policy gave up on.",
		func(ts *broker.TubeStats) float64 { return float64(ts.GaveUp) })
	fam("reprieve_tube_expired_total", "counter", "Jobs of a tube dropped by retention or ready-expiry.",
		func(ts *broker.TubeStats) float64 { return float64(ts.Expired) })
	fam("reprieve_tube_buried_bytes", "gauge", "Body bytes of a tube's buried jobs.",
		func(ts *broker.TubeStats) float64 { return float64(ts.BuriedBytes) })
}
