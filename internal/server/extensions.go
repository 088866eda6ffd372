package server

import (
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/stats"
)

// This file serves Reprieve's extension commands and keys
// (docs/protocol.md, "Extensions"): fail, give-up, list-jobs, kick-tube,
// flush-tube, claim. The failure-policy keys of stats, stats-tube and stats-job
// are in internal/stats. beanstalkd's own replies are untouched.

// handleFail answers "fail <id> <bytes>\r\n<text>\r\n" with what the
// tube's policy did: RETRYING <attempts> <delay> <at>, BURIED <attempts>,
// DEAD_LETTERED <attempts> <tube> or DELETED <attempts>.
func handleFail(c *Conn, cmd *beanstalk.Command) bool {
	return replyFail(c, cmd, c.sess.Fail)
}

// handleGiveUp answers "give-up <id> <bytes>\r\n<text>\r\n" as fail does,
// with BURIED, DEAD_LETTERED or DELETED: the policy gives up at once.
func handleGiveUp(c *Conn, cmd *beanstalk.Command) bool {
	return replyFail(c, cmd, c.sess.GiveUp)
}

// replyFail runs fail or give-up and writes the outcome.
func replyFail(c *Conn, cmd *beanstalk.Command, fail func(job.ID, string) (broker.FailResult, error)) bool {
	id := job.ID(cmd.ID)
	res, err := fail(id, string(cmd.Body))
	cmd.Body = nil
	if err != nil {
		return c.ReplyError(err)
	}
	switch res.Action {
	case broker.FailRetry:
		var delay time.Duration
		if js, err := c.srv.b.StatsJob(id); err == nil {
			delay = js.Delay
		}
		c.w.Reply(fmt.Sprintf("%s %d %d %s\r\n", beanstalk.ReplyRetrying, res.Attempts, delay/time.Second, res.At.UTC().Format(time.RFC3339)))
	case broker.FailBuried:
		c.w.Number(beanstalk.ReplyFailBuried, uint64(res.Attempts))
	case broker.FailDeadLettered:
		c.w.Reply(fmt.Sprintf("%s %d %s\r\n", beanstalk.ReplyDeadLettered, res.Attempts, res.Tube))
	case broker.FailDeleted:
		c.w.Number(beanstalk.ReplyFailDeleted, uint64(res.Attempts))
	default:
		return c.ReplyError(fmt.Errorf("server: fail: unknown outcome %v", res.Action))
	}
	return true
}

// stateOf maps a state word of list-jobs and flush-tube to the engine's
// state, 0 for "all".
func stateOf(w []byte) job.State {
	switch string(w) {
	case beanstalk.StateReady:
		return job.Ready
	case beanstalk.StateDelayed:
		return job.Delayed
	case beanstalk.StateReserved:
		return job.Reserved
	case beanstalk.StateBuried:
		return job.Buried
	}
	return 0
}

// handleListJobs answers "list-jobs <tube> <state> <after-id> <limit>"
// with OK and a YAML list of stats-job dictionaries.
func handleListJobs(c *Conn, cmd *beanstalk.Command) bool {
	jobs, err := c.srv.b.ListJobs(cmd.Tube, stateOf(cmd.Args), job.ID(cmd.ID), int(cmd.Bound))
	if err != nil {
		return c.ReplyError(err)
	}
	out := append(c.list[:0], "---\n"...)
	var d beanstalk.Dict
	for i := range jobs {
		d.Reset()
		stats.Write(&d, stats.Job, &jobs[i])
		body := d.Bytes()[len("---\n"):]
		first := true
		for len(body) > 0 {
			n := 0
			for n < len(body) && body[n] != '\n' {
				n++
			}
			if first {
				out = append(out, "- "...)
				first = false
			} else {
				out = append(out, "  "...)
			}
			out = append(out, body[:min(n+1, len(body))]...)
			body = body[min(n+1, len(body)):]
		}
	}
	c.list = out
	c.w.OK(out)
	return true
}

// handleKickTube answers "kick-tube <tube> <bound> <bytes>\r\n<text>\r\n"
// with KICKED <count>.
func handleKickTube(c *Conn, cmd *beanstalk.Command) bool {
	n, err := c.srv.b.KickBuried(cmd.Tube, string(cmd.Body), int(cmd.Bound))
	cmd.Body = nil
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Number("KICKED", uint64(n))
	return true
}

// handleFlushTube answers "flush-tube <tube> <state>" with FLUSHED <count>.
func handleFlushTube(c *Conn, cmd *beanstalk.Command) bool {
	n, err := c.srv.b.Flush(cmd.Tube, stateOf(cmd.Args))
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Number(beanstalk.ReplyFlushed, uint64(n))
	return true
}

// handleClaim answers "claim <seconds>" as reserve-with-timeout, with
// CLAIMED <id> <tube> <pri> <ttr> <failures> <history> <bytes> and the
// body instead of RESERVED: what a worker needs of the job, in the reply
// that hands it out.
func handleClaim(c *Conn, cmd *beanstalk.Command) bool {
	res, err := c.awaitJob(seconds(uint32(cmd.Timeout)))
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Claimed(uint64(res.ID), res.Tube, res.Priority, uint64(res.TTR/time.Second), res.Failures, res.History, res.Body)
	return true
}
