package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/config"
)

// object is a JSON object whose keys keep the order they were added in,
// so that replies read like the beanstalk stats they mirror.
type object []field

type field struct {
	key   string
	value any
}

// add appends key: value.
func (o *object) add(key string, value any) { *o = append(*o, field{key, value}) }

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := marshal(&b, f.key); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := marshal(&b, f.value); err != nil {
			return nil, fmt.Errorf("admin: key %s: %w", f.key, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal appends v as JSON to b, leaving <, > and & as they are: error
// texts read better so, and replies are served as application/json with
// nosniff, never as HTML.
func marshal(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// writeJSON answers status with v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		_ = enc.Encode(apiError{Error: err.Error(), Code: "internal"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// apiError is the body of every error reply.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError answers status with {"error": msg, "code": code}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// badParam answers 400 naming the parameter, what it got and what it wants.
func badParam(w http.ResponseWriter, name, got, want string) {
	writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("parameter %s=%q: want %s", name, got, want))
}

// engineError answers the error of a broker call: 404 for ErrNotFound
// (what names what was not found), 503 when the engine cannot take the
// change now (a full disk, a closed broker), 500 otherwise.
func engineError(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, broker.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", what+" not found")
	case errors.Is(err, broker.ErrOutOfMemory):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the change cannot be logged now (is the disk full?): "+err.Error())
	case errors.Is(err, broker.ErrClosed), errors.Is(err, broker.ErrDraining):
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// uintParam reads the parameter name as an integer from 0 to max; absent
// gives def. It answers 400 itself and returns ok false on bad input.
func uintParam(w http.ResponseWriter, r *http.Request, name string, def, max uint64) (uint64, bool) {
	s := r.FormValue(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		badParam(w, name, s, fmt.Sprintf("a whole number from 0 to %d", max))
		return 0, false
	}
	return n, true
}

// durationParam reads the parameter name as a duration in the config
// dialect ("30" seconds, "1m30s"), rounded up to seconds, from 0 to max seconds.
func durationParam(w http.ResponseWriter, r *http.Request, name string, def time.Duration, max uint64) (time.Duration, bool) {
	s := r.FormValue(name)
	if s == "" {
		return def, true
	}
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 || math.Ceil(d.Seconds()) > float64(max) {
		badParam(w, name, s, fmt.Sprintf("seconds (30) or a duration (1m30s) from 0 to %d s", max))
		return 0, false
	}
	return (d + time.Second - 1).Truncate(time.Second), true
}

// seconds gives a duration in whole seconds, truncated as the wire does.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }
