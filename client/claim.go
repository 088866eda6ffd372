package client

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// JobInfo is what Reprieve's claim extension tells of a job in the reply
// that hands it out (docs/protocol.md, "claim"): what a worker needs
// before it runs the job, without a stats-job round trip.
type JobInfo struct {
	// Tube is the tube the job was reserved from.
	Tube string
	// Priority and TTR are the job's, as stats-job reports them.
	Priority uint32
	TTR      time.Duration
	// Failures is the job's failure count so far (stats-job's failures:
	// the failures of its current series), so its attempt number is
	// Failures+1.
	Failures int
	// History says the job has a failure history (errors, a give-up, a
	// revival); StatsJob(...).History() reads it. Without one, the
	// history is empty but for its origin, the job's own tube.
	History bool
}

// Claim reserves a job as ReserveWithTimeout does (waiting up to timeout,
// whole seconds rounded up; at most 2^31-1 s) and returns, with it, the
// JobInfo of Reprieve's claim command. Errors as for
// ReserveWithTimeout: ErrTimedOut, ErrDeadlineSoon. A server without
// claim (a plain beanstalkd) answers ErrUnknownCommand and reserves
// nothing; the Conn stays usable, so the caller can fall back to
// ReserveWithTimeout and StatsJob. A Pool does so by itself.
func (c *Conn) Claim(ctx context.Context, timeout time.Duration) (Job, JobInfo, error) {
	var line string
	switch secs := min(seconds(timeout), 1<<31-1); secs {
	case 0: // a Pool's sweep
		line = "claim 0"
	case 1: // a Pool's wait, in slices of the default ReserveSlice
		line = "claim 1"
	default:
		line = "claim " + strconv.FormatUint(secs, 10)
	}
	r, err := c.Do(ctx, Request{Line: line})
	if err != nil {
		return Job{}, JobInfo{}, c.opError("claim", err)
	}
	if j, info, ok := parseClaimed(r); ok {
		return j, info, nil
	}
	return Job{}, JobInfo{}, c.ReplyError("claim", 0, "", r)
}

// parseClaimed reads claim's success reply, "CLAIMED <id> <tube> <pri>
// <ttr> <failures> <history> <bytes>"; the byte count is the last word,
// so that words a later server adds before it are skipped.
func parseClaimed(r Reply) (Job, JobInfo, bool) {
	if r.Code != "CLAIMED" || len(r.Args) < 7 {
		return Job{}, JobInfo{}, false
	}
	id, ok1 := r.argUint(0)
	pri, ok2 := r.argUint(2)
	ttr, ok3 := r.argUint(3)
	failures, ok4 := r.argUint(4)
	history := r.Args[5]
	if !ok1 || !ok2 || !ok3 || !ok4 || pri > 1<<32-1 || failures > 1<<32-1 || (history != "0" && history != "1") {
		return Job{}, JobInfo{}, false
	}
	info := JobInfo{Tube: r.Args[1], Priority: uint32(pri), TTR: time.Duration(ttr) * time.Second, Failures: int(failures), History: history == "1"}
	return Job{ID: id, Body: r.Body}, info, true
}

// claimUnknown reports an error that says the server has no claim
// command: UNKNOWN_COMMAND, or BAD_FORMAT from a server that reads
// "claim" as something else.
func claimUnknown(err error) bool {
	return errors.Is(err, ErrUnknownCommand) || errors.Is(err, ErrBadFormat)
}

func init() {
	bodyReplies["CLAIMED"] = -1 // the last word
}

// Info returns what the server told of the job when it handed it out,
// and true, if the server speaks Reprieve's claim extension (the Pool
// asks with claim first on each connection); false from a server without
// it, such as beanstalkd: read the job's stats with Stats then.
func (h *Handle) Info() (JobInfo, bool) {
	return h.info, h.claimed
}

// reserveOn reserves a job on r's connection, waiting up to timeout: with
// claim, unless the connection's server has answered it UNKNOWN_COMMAND
// before, then with reserve-with-timeout. claimed says which answered.
func (r *reserver) reserveOn(ctx context.Context, timeout time.Duration) (j Job, info JobInfo, claimed bool, err error) {
	if !r.noClaim {
		j, info, err = r.c.Claim(ctx, timeout)
		if !claimUnknown(err) {
			return j, info, err == nil, err
		}
		r.noClaim = true // asked once per connection
	}
	j, err = r.c.ReserveWithTimeout(ctx, timeout)
	return j, JobInfo{}, false, err
}
