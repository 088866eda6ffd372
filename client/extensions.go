package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file holds Reprieve's extension commands (docs/protocol.md,
// "Extensions"): fail, give-up, list-jobs, kick-tube, flush-tube; claim is
// in claim.go. A beanstalkd server answers them UNKNOWN_COMMAND
// (ErrUnknownCommand).

// The outcomes of Fail, as FailResult.Action.
const (
	FailRetry      = "retry"       // the job waits for its next attempt (RETRYING)
	FailBuried     = "buried"      // given up: buried in its tube (BURIED)
	FailDeadLetter = "dead-letter" // given up: moved, buried, to a dead-letter tube (DEAD_LETTERED)
	FailDeleted    = "deleted"     // given up: deleted (DELETED)
)

// FailResult is what the server did with a failed job.
type FailResult struct {
	// Action is FailRetry, FailBuried, FailDeadLetter or FailDeleted.
	Action string
	// Attempts is the job's failure count, this failure included.
	Attempts int
	// Delay and At say when a retried job becomes ready again (FailRetry).
	Delay time.Duration
	At    time.Time
	// Tube is the dead-letter tube (FailDeadLetter).
	Tube string
}

// String describes the result for people: "attempt 3 failed; retry at
// 2026-11-25T10:00:00Z (in 2m15s)", "gave up after 80 attempts; buried"…
func (r FailResult) String() string {
	switch r.Action {
	case FailRetry:
		return fmt.Sprintf("attempt %d failed; retry at %s (in %v)", r.Attempts, r.At.UTC().Format(time.RFC3339), r.Delay)
	case FailDeadLetter:
		return r.gaveUp() + "; moved to dead-letter tube " + r.Tube
	case FailBuried:
		return r.gaveUp() + "; buried"
	case FailDeleted:
		return r.gaveUp() + "; deleted"
	}
	return r.Action
}

// gaveUp is "gave up after N attempts", singular for one.
func (r FailResult) gaveUp() string {
	if r.Attempts == 1 {
		return "gave up after 1 attempt"
	}
	return fmt.Sprintf("gave up after %d attempts", r.Attempts)
}

// Fail reports that a job reserved by this Conn failed with errText (any
// bytes, newlines included). The server records the failure in the job's
// history and applies its tube's failure policy: a retry later, or a
// give-up (bury, dead-letter tube, delete). On a tube without a policy the
// job is buried. ErrNotFound if this Conn has not reserved the job;
// ErrJobTooBig if errText is longer than the server's job size limit.
// A server without fail (a plain beanstalkd) answers ErrUnknownCommand and
// closes nothing, but reads the error text as commands: the Conn is
// closed (see Do), and the job goes back to ready.
func (c *Conn) Fail(ctx context.Context, id uint64, errText string) (FailResult, error) {
	return c.failJob(ctx, "fail", id, errText)
}

// GiveUp is Fail for a failure no retry can mend: the server records it
// in the job's history and applies its tube's give-up action at once
// (bury, dead-letter tube or delete; bury on a tube without a policy),
// whatever the retry schedule says. Errors as for Fail.
func (c *Conn) GiveUp(ctx context.Context, id uint64, errText string) (FailResult, error) {
	return c.failJob(ctx, "give-up", id, errText)
}

func (c *Conn) failJob(ctx context.Context, op string, id uint64, errText string) (FailResult, error) {
	req := Request{Line: fmt.Sprintf("%s %d %d", op, id, len(errText)), Body: []byte(errText), WithBody: true}
	r, err := c.Do(ctx, req)
	if err != nil {
		return FailResult{}, c.opError(op, err)
	}
	if res, ok := parseFail(r); ok {
		return res, nil
	}
	return FailResult{}, c.ReplyError(op, id, "", r)
}

// parseFail reads the success replies of fail.
func parseFail(r Reply) (FailResult, bool) {
	n, ok := r.argUint(0)
	if !ok {
		return FailResult{}, false
	}
	res := FailResult{Attempts: int(n)}
	switch {
	case r.Code == "RETRYING" && len(r.Args) == 3:
		d, ok1 := r.argUint(1)
		at, err := time.Parse(time.RFC3339, r.Args[2])
		if !ok1 || err != nil {
			return FailResult{}, false
		}
		res.Action, res.Delay, res.At = FailRetry, time.Duration(d)*time.Second, at
	case r.Code == "BURIED" && len(r.Args) == 1:
		res.Action = FailBuried
	case r.Code == "DEAD_LETTERED" && len(r.Args) == 2:
		res.Action, res.Tube = FailDeadLetter, r.Args[1]
	case r.Code == "DELETED" && len(r.Args) == 1:
		res.Action = FailDeleted
	default:
		return FailResult{}, false
	}
	return res, true
}

// The states ListJobs and FlushTube take.
const (
	StateReady    = "ready"
	StateDelayed  = "delayed"
	StateReserved = "reserved"
	StateBuried   = "buried"
	StateAll      = "all"
)

// MaxListLimit is the largest page ListJobs asks for.
const MaxListLimit = 1000

// ListJobs returns, without reserving them, the jobs of tube in state
// (StateAll for every state) whose ids are above afterID, lowest id first,
// at most limit of them (1 to MaxListLimit): each as its stats-job
// dictionary, failure history included. Page through with afterID = the id
// of the last job returned; a short page is the last. ErrNotFound if the
// tube does not exist.
func (c *Conn) ListJobs(ctx context.Context, tube, state string, afterID uint64, limit int) ([]Stats, error) {
	if err := ValidTubeName(tube); err != nil {
		return nil, c.opError("list-jobs", err)
	}
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	r, err := c.Do(ctx, Request{Line: fmt.Sprintf("list-jobs %s %s %d %d", tube, state, afterID, limit)})
	if err != nil {
		return nil, c.opError("list-jobs", err)
	}
	if r.Code != "OK" {
		return nil, c.ReplyError("list-jobs", 0, tube, r)
	}
	jobs, err := ParseJobList(r.Body)
	if err != nil {
		return nil, c.opError("list-jobs", err)
	}
	return jobs, nil
}

// ParseJobList parses the body of a list-jobs reply: "---" then one YAML
// mapping per job, its first line "- key: value", the others
// "  key: value".
func ParseJobList(body []byte) ([]Stats, error) {
	lines, err := yamlLines(body)
	if err != nil {
		return nil, err
	}
	var out []Stats
	var cur []string
	flush := func() error {
		if cur == nil {
			return nil
		}
		s, _, err := ParseStats([]byte("---\n" + strings.Join(cur, "\n") + "\n"))
		if err != nil {
			return err
		}
		out = append(out, s)
		cur = nil
		return nil
	}
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "- "):
			if err := flush(); err != nil {
				return nil, err
			}
			cur = []string{l[2:]}
		case strings.HasPrefix(l, "  ") && cur != nil:
			cur = append(cur, l[2:])
		default:
			return nil, fmt.Errorf("%w: line %d %q is not part of a job list", errBadYAML, i+2, l)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// KickTube revives up to bound buried jobs of tube whose last error
// contains errText (every buried job if errText is empty), longest buried
// first, and returns how many it revived. A dead letter goes back to the
// tube it came from. ErrNotFound if the tube does not exist.
func (c *Conn) KickTube(ctx context.Context, tube string, bound int, errText string) (int, error) {
	if err := ValidTubeName(tube); err != nil {
		return 0, c.opError("kick-tube", err)
	}
	if bound < 0 {
		bound = 0
	}
	r, err := c.Do(ctx, Request{Line: fmt.Sprintf("kick-tube %s %d %d", tube, bound, len(errText)), Body: []byte(errText), WithBody: true})
	if err != nil {
		return 0, c.opError("kick-tube", err)
	}
	if n, ok := r.argUint(0); r.Code == "KICKED" && ok && len(r.Args) == 1 {
		return int(n), nil
	}
	return 0, c.ReplyError("kick-tube", 0, tube, r)
}

// FlushTube deletes the jobs of tube in state (StateAll for every state,
// reserved ones included) and returns how many it deleted. ErrNotFound if
// the tube does not exist.
func (c *Conn) FlushTube(ctx context.Context, tube, state string) (int, error) {
	if err := ValidTubeName(tube); err != nil {
		return 0, c.opError("flush-tube", err)
	}
	r, err := c.Do(ctx, Request{Line: fmt.Sprintf("flush-tube %s %s", tube, state)})
	if err != nil {
		return 0, c.opError("flush-tube", err)
	}
	if n, ok := r.argUint(0); r.Code == "FLUSHED" && ok && len(r.Args) == 1 {
		return int(n), nil
	}
	return 0, c.ReplyError("flush-tube", 0, tube, r)
}

// Fail reports the job failed with errText and finishes the Handle; see
// Conn.Fail.
func (h *Handle) Fail(ctx context.Context, errText string) (FailResult, error) {
	return h.fail(ctx, errText, (*Conn).Fail)
}

// GiveUp reports the job failed for good with errText and finishes the
// Handle; see Conn.GiveUp.
func (h *Handle) GiveUp(ctx context.Context, errText string) (FailResult, error) {
	return h.fail(ctx, errText, (*Conn).GiveUp)
}

func (h *Handle) fail(ctx context.Context, errText string, op func(*Conn, context.Context, uint64, string) (FailResult, error)) (FailResult, error) {
	var res FailResult
	err := h.finish(ctx, func(c *Conn) error {
		var err error
		res, err = op(c, ctx, h.ID, errText)
		return err
	})
	return res, err
}

// FailureHistory is the failure history of a job as stats-job (and
// list-jobs) report it in their extension keys.
type FailureHistory struct {
	Attempts                int
	FirstError, LastError   string
	FirstFailed, LastFailed time.Time // zero if the job never failed
	Origin                  string    // the tube the job was first put in
	GaveUp                  string    // "", "buried", "dead-letter TUBE" or "deleted"
	Revivals                int       // kicks after a give-up
	LastRevival             time.Time
}

// History reads the failure history from a stats-job or list-jobs
// dictionary; keys a beanstalkd server does not send read as zero.
func (s Stats) History() FailureHistory {
	atoi := func(k string) int { n, _ := strconv.Atoi(s[k]); return n }
	tm := func(k string) time.Time { t, _ := time.Parse(time.RFC3339, s[k]); return t }
	return FailureHistory{
		Attempts:    atoi("failures"),
		FirstError:  s["first-error"],
		LastError:   s["last-error"],
		FirstFailed: tm("first-failure"),
		LastFailed:  tm("last-failure"),
		Origin:      s["origin"],
		GaveUp:      s["gave-up"],
		Revivals:    atoi("revivals"),
		LastRevival: tm("last-revival"),
	}
}
