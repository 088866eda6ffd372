package admin

import (
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/reprieve/reprieve/internal/job"
)

// This file holds the endpoints of single jobs and the actions that change
// tubes. Each action is logged at info with the caller's address.

// jobID reads the {id} path segment; it answers 400 itself on bad input.
func jobID(w http.ResponseWriter, r *http.Request) (job.ID, bool) {
	s := r.PathValue("id")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		badParam(w, "id", s, "a job id, a whole number from 1")
		return 0, false
	}
	return job.ID(n), true
}

// job answers GET /api/v1/jobs/{id}: its stats, failure history and body.
// The body is the text itself when it is valid UTF-8 (body-encoding
// "text"), else base64 of its bytes (body-encoding "base64").
func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	js, err := h.b.StatsJob(id)
	if err != nil {
		engineError(w, err, "job "+strconv.FormatUint(uint64(id), 10))
		return
	}
	p, err := h.b.Peek(id)
	if err != nil {
		engineError(w, err, "job "+strconv.FormatUint(uint64(id), 10))
		return
	}
	o := jobObject(&js)
	if utf8.Valid(p.Body) {
		o.add("body-encoding", "text")
		o.add("body", string(p.Body))
	} else {
		o.add("body-encoding", "base64")
		o.add("body", base64.StdEncoding.EncodeToString(p.Body))
	}
	writeJSON(w, http.StatusOK, o)
}

// deleteJob answers DELETE /api/v1/jobs/{id}: a ready, delayed or buried
// job is deleted; a reserved one is refused with 409, its worker holds it.
func (h *Handler) deleteJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	what := "job " + strconv.FormatUint(uint64(id), 10)
	js, err := h.b.StatsJob(id)
	if err != nil {
		engineError(w, err, what)
		return
	}
	if js.State == job.Reserved {
		writeError(w, http.StatusConflict, "reserved", what+" is reserved by a worker; delete it once it is released, buried or its TTR has passed")
		return
	}
	// Deleting is a session's command: a short-lived session runs it, as
	// a client connection would.
	s := h.b.Open()
	err = s.Delete(id)
	s.Close()
	if err != nil {
		engineError(w, err, what)
		return
	}
	h.log.Info("admin: job deleted", "id", uint64(id), "tube", js.Tube, "state", js.State.String(), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"deleted", uint64(id)}})
}

// kickJob answers POST /api/v1/jobs/{id}/kick: a buried or delayed job
// becomes ready; any other state is 409.
func (h *Handler) kickJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	what := "job " + strconv.FormatUint(uint64(id), 10)
	js, err := h.b.StatsJob(id)
	if err != nil {
		engineError(w, err, what)
		return
	}
	if js.State != job.Buried && js.State != job.Delayed {
		writeError(w, http.StatusConflict, "not_kickable", what+" is "+js.State.String()+"; only a buried or delayed job can be kicked")
		return
	}
	if err := h.b.KickJob(id); err != nil {
		engineError(w, err, what)
		return
	}
	h.log.Info("admin: job kicked", "id", uint64(id), "tube", js.Tube, "state", js.State.String(), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"kicked", uint64(id)}})
}

// existingTube answers 404 unless the {tube} path segment names a tube.
func (h *Handler) existingTube(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("tube")
	if _, err := h.b.StatsTube(name); err != nil {
		engineError(w, err, "tube "+strconv.Quote(name))
		return "", false
	}
	return name, true
}

// kickTube answers POST /api/v1/tubes/{tube}/kick?bound=&error=. Without
// error it is beanstalk's kick: up to bound buried jobs, or delayed ones
// if none is buried. With error, only buried jobs whose last error
// contains the text are kicked. bound defaults to every job.
func (h *Handler) kickTube(w http.ResponseWriter, r *http.Request) {
	bound, ok := uintParam(w, r, "bound", math.MaxInt32, math.MaxInt32)
	if !ok {
		return
	}
	name, ok := h.existingTube(w, r)
	if !ok {
		return
	}
	text := r.FormValue("error")
	var n int
	if text != "" {
		var err error
		if n, err = h.b.KickBuried(name, text, int(bound)); err != nil {
			engineError(w, err, "tube "+strconv.Quote(name))
			return
		}
	} else {
		// kick works on a session's used tube: a short-lived session
		// runs it, as a client connection would.
		s := h.b.Open()
		s.Use(name)
		n = s.Kick(int(bound))
		s.Close()
	}
	h.log.Info("admin: tube kicked", "tube", name, "bound", bound, "error", text, "kicked", n, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"tube", name}, {"kicked", n}})
}

// maxPause is the longest pause, in seconds: pause-tube's delay is a
// 32-bit number.
const maxPause = math.MaxUint32

// pauseTube answers POST /api/v1/tubes/{tube}/pause?delay=: reserves
// from the tube wait for delay (seconds or a Go duration).
func (h *Handler) pauseTube(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("delay") == "" {
		badParam(w, "delay", "", "seconds (30) or a duration (1m30s): how long the tube stays paused")
		return
	}
	d, ok := durationParam(w, r, "delay", 0, maxPause)
	if !ok {
		return
	}
	name, ok := h.existingTube(w, r)
	if !ok {
		return
	}
	if err := h.b.PauseTube(name, d); err != nil {
		engineError(w, err, "tube "+strconv.Quote(name))
		return
	}
	h.log.Info("admin: tube paused", "tube", name, "delay", d, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"tube", name}, {"pause", seconds(d)}})
}

// unpauseTube answers POST /api/v1/tubes/{tube}/unpause: the pause ends
// now, as a pause-tube of 0 does.
func (h *Handler) unpauseTube(w http.ResponseWriter, r *http.Request) {
	name, ok := h.existingTube(w, r)
	if !ok {
		return
	}
	if err := h.b.PauseTube(name, 0); err != nil {
		engineError(w, err, "tube "+strconv.Quote(name))
		return
	}
	h.log.Info("admin: tube unpaused", "tube", name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"tube", name}, {"pause", 0}})
}

// flushTube answers POST /api/v1/tubes/{tube}/flush?state=: deletes the
// tube's jobs in that state (all: every state, reserved included). The
// state is required, so that nothing is flushed by accident.
func (h *Handler) flushTube(w http.ResponseWriter, r *http.Request) {
	stateName := r.FormValue("state")
	st, ok := parseState(stateName)
	if !ok {
		badParam(w, "state", stateName, "ready, delayed, reserved, buried or all (required)")
		return
	}
	name, ok := h.existingTube(w, r)
	if !ok {
		return
	}
	n, err := h.b.Flush(name, st)
	if err != nil {
		// Some were deleted before the log refused: say how many.
		h.log.Info("admin: tube flushed", "tube", name, "state", stateName, "flushed", n, "err", err, "remote", r.RemoteAddr)
		engineError(w, err, "tube "+strconv.Quote(name))
		return
	}
	h.log.Info("admin: tube flushed", "tube", name, "state", stateName, "flushed", n, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, object{{"tube", name}, {"state", stateName}, {"flushed", n}})
}
