package admin

import (
	"net/http"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/promtext"
)

// This file writes /metrics in the Prometheus text exposition format
// (version 0.0.4, written by promtext): every family has HELP and TYPE
// lines, counters end in _total. docs/admin.md lists the families.

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metrics answers GET /metrics.
func (h *Handler) metrics(w http.ResponseWriter, _ *http.Request) {
	var e promtext.Writer
	h.writeServerMetrics(&e)
	h.writeTubeMetrics(&e)
	h.writeLogMetrics(&e)
	h.writeClusterMetrics(&e)
	if h.cfg.Observer != nil {
		h.cfg.Observer.writeTimings(&e)
	}
	writeRuntimeMetrics(&e)
	w.Header().Set("Content-Type", promtext.ContentType)
	_, _ = w.Write(e.Bytes())
}

// writeServerMetrics writes the server's totals.
func (h *Handler) writeServerMetrics(e *promtext.Writer) {
	st := h.b.Stats()
	e.Family("reprieve_jobs", "gauge", "Jobs in the server by state.")
	e.Sample("reprieve_jobs", float64(st.CurrentJobsReady), "state", "ready")
	e.Sample("reprieve_jobs", float64(st.CurrentJobsReserved), "state", "reserved")
	e.Sample("reprieve_jobs", float64(st.CurrentJobsDelayed), "state", "delayed")
	e.Sample("reprieve_jobs", float64(st.CurrentJobsBuried), "state", "buried")
	e.One("reprieve_jobs_urgent", "gauge", "Ready jobs with a priority below 1024.", float64(st.CurrentJobsUrgent))
	e.One("reprieve_jobs_total", "counter", "Jobs put since the server started.", float64(st.TotalJobs))
	e.One("reprieve_job_timeouts_total", "counter", "Reserved jobs whose TTR expired.", float64(st.JobTimeouts))
	if h.cfg.Commands != nil {
		e.Family("reprieve_commands_total", "counter", "Protocol commands run, by command (the cmd-* stats).")
		for _, op := range commandOps() {
			e.Sample("reprieve_commands_total", float64(h.cfg.Commands(op)), "cmd", op.String())
		}
	}
	e.One("reprieve_connections", "gauge", "Open client connections.", float64(st.CurrentConnections))
	e.One("reprieve_connections_total", "counter", "Client connections accepted since the server started.", float64(st.TotalConnections))
	if h.cfg.Refused != nil {
		e.One("reprieve_connections_refused_total", "counter", "Client connections refused at the connection limit (--max-connections).", float64(h.cfg.Refused()))
	}
	e.One("reprieve_producers", "gauge", "Open connections that have put a job.", float64(st.CurrentProducers))
	e.One("reprieve_workers", "gauge", "Open connections that have reserved a job.", float64(st.CurrentWorkers))
	e.One("reprieve_waiting", "gauge", "Connections blocked in a reserve.", float64(st.CurrentWaiting))
	e.One("reprieve_tubes", "gauge", "Tubes that exist.", float64(st.CurrentTubes))
	e.One("reprieve_draining", "gauge", "1 while drain mode is on (puts are refused).", b2f(st.Draining))
	e.One("reprieve_uptime_seconds", "gauge", "Seconds since the server started.", st.Uptime.Seconds())
	e.One("reprieve_failures_total", "counter", "Job failures: fail commands and TTR expiries on tubes with a retry policy.", float64(st.Failures))
	e.One("reprieve_gave_up_total", "counter", "Jobs a failure policy gave up on.", float64(st.GaveUp))
	e.One("reprieve_expired_total", "counter", "Jobs dropped by retention or ready-expiry.", float64(st.Expired))
}

// writeTubeMetrics writes one sample per tube of each tube family.
func (h *Handler) writeTubeMetrics(e *promtext.Writer) {
	var tubes []broker.TubeStats
	for _, name := range h.b.ListTubes() {
		if ts, err := h.b.StatsTube(name); err == nil {
			tubes = append(tubes, ts)
		}
	}
	fam := func(name, typ, help string, v func(ts *broker.TubeStats) float64) {
		e.Family(name, typ, help)
		for i := range tubes {
			e.Sample(name, v(&tubes[i]), "tube", tubes[i].Name)
		}
	}
	e.Family("reprieve_tube_jobs", "gauge", "Jobs in a tube by state.")
	for i := range tubes {
		ts := &tubes[i]
		e.Sample("reprieve_tube_jobs", float64(ts.CurrentJobsReady), "tube", ts.Name, "state", "ready")
		e.Sample("reprieve_tube_jobs", float64(ts.CurrentJobsReserved), "tube", ts.Name, "state", "reserved")
		e.Sample("reprieve_tube_jobs", float64(ts.CurrentJobsDelayed), "tube", ts.Name, "state", "delayed")
		e.Sample("reprieve_tube_jobs", float64(ts.CurrentJobsBuried), "tube", ts.Name, "state", "buried")
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
	fam("reprieve_tube_concurrency_limit", "gauge", "Most jobs of a tube reserved at once (0: no limit).",
		func(ts *broker.TubeStats) float64 { return float64(ts.LimitConcurrency) })
	fam("reprieve_tube_held_total", "counter", "Reserves that found a ready job of a tube held back by its concurrency or rate limit.",
		func(ts *broker.TubeStats) float64 { return float64(ts.HeldByConcurrency + ts.HeldByRate) })
	fam("reprieve_tube_duplicates_total", "counter", "Puts into a unique tube answered with a live job's id.",
		func(ts *broker.TubeStats) float64 { return float64(ts.Duplicates) })
	fam("reprieve_tube_oldest_ready_age_seconds", "gauge", "Seconds since the oldest ready job of a tube was put (0: no ready job).",
		func(ts *broker.TubeStats) float64 {
			age, _ := h.b.OldestReady(ts.Name)
			return age.Seconds()
		})
}
