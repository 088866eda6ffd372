package server

import (
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/job"
)

// handler runs one parsed command on a connection and writes its reply. It
// returns false if the connection must close.
type handler func(c *Conn, cmd *beanstalk.Command) bool

// handlers is the dispatch table, by Op: beanstalkd's commands (this
// file), then the extensions (extensions.go).
var handlers = [beanstalk.MaxOps]handler{
	beanstalk.OpPut:                handlePut,
	beanstalk.OpPeek:               handlePeek,
	beanstalk.OpPeekReady:          handlePeekReady,
	beanstalk.OpPeekDelayed:        handlePeekDelayed,
	beanstalk.OpPeekBuried:         handlePeekBuried,
	beanstalk.OpReserveWithTimeout: handleReserveWithTimeout,
	beanstalk.OpReserveJob:         handleReserveJob,
	beanstalk.OpReserve:            handleReserve,
	beanstalk.OpDelete:             handleDelete,
	beanstalk.OpRelease:            handleRelease,
	beanstalk.OpBury:               handleBury,
	beanstalk.OpKick:               handleKick,
	beanstalk.OpKickJob:            handleKickJob,
	beanstalk.OpTouch:              handleTouch,
	beanstalk.OpStatsJob:           handleStatsJob,
	beanstalk.OpStatsTube:          handleStatsTube,
	beanstalk.OpStats:              handleStats,
	beanstalk.OpUse:                handleUse,
	beanstalk.OpWatch:              handleWatch,
	beanstalk.OpIgnore:             handleIgnore,
	beanstalk.OpListTubesWatched:   handleListTubesWatched,
	beanstalk.OpListTubeUsed:       handleListTubeUsed,
	beanstalk.OpListTubes:          handleListTubes,
	beanstalk.OpPauseTube:          handlePauseTube,
	beanstalk.OpFail:               handleFail,
	beanstalk.OpGiveUp:             handleGiveUp,
	beanstalk.OpListJobs:           handleListJobs,
	beanstalk.OpKickTube:           handleKickTube,
	beanstalk.OpFlushTube:          handleFlushTube,
	beanstalk.OpClaim:              handleClaim,
}

func seconds(n uint32) time.Duration { return time.Duration(n) * time.Second }

// done writes reply if err is nil, else err's reply.
func (c *Conn) done(err error, reply string) bool {
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Reply(reply)
	return true
}

// handlePut runs a put. On the event loop it does not wait for the log:
// the loop waits once for all the puts of its pass and then answers each
// (finishPut).
func handlePut(c *Conn, cmd *beanstalk.Command) bool {
	pri, delay, ttr, body := cmd.Pri, seconds(cmd.Delay), seconds(cmd.TTR), cmd.Body
	cmd.Body = nil // the engine owns it now
	if !c.looped {
		return c.inserted(c.sess.Put(pri, delay, ttr, body))
	}
	id, wait, err := c.sess.StartPut(pri, delay, ttr, body)
	if wait {
		c.putWait = true
		return true
	}
	return c.inserted(id, err)
}

// finishPut answers the put that set c.putWait once its job is durable
// (or refused). It reports false if the connection must close.
func (c *Conn) finishPut() bool {
	c.putWait = false
	if !c.inserted(c.sess.FinishPut()) {
		_ = c.w.Flush()
		return false
	}
	return c.settle()
}

// inserted answers a put.
func (c *Conn) inserted(id job.ID, err error) bool {
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Number("INSERTED", uint64(id))
	return true
}

func (c *Conn) found(id job.ID, body []byte, err error) bool {
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Job("FOUND", uint64(id), body)
	return true
}

func handlePeek(c *Conn, cmd *beanstalk.Command) bool {
	p, err := c.srv.b.Peek(job.ID(cmd.ID))
	return c.found(p.ID, p.Body, err)
}

func handlePeekReady(c *Conn, _ *beanstalk.Command) bool {
	p, err := c.srv.b.PeekReady(c.sess.Used())
	return c.found(p.ID, p.Body, err)
}

func handlePeekDelayed(c *Conn, _ *beanstalk.Command) bool {
	p, err := c.srv.b.PeekDelayed(c.sess.Used())
	return c.found(p.ID, p.Body, err)
}

func handlePeekBuried(c *Conn, _ *beanstalk.Command) bool {
	p, err := c.srv.b.PeekBuried(c.sess.Used())
	return c.found(p.ID, p.Body, err)
}

func handleReserve(c *Conn, _ *beanstalk.Command) bool { return c.reserve(-1) }

func handleReserveWithTimeout(c *Conn, cmd *beanstalk.Command) bool {
	if cmd.Timeout < 0 {
		return c.reserve(-1) // beanstalkd waits forever on a negative timeout
	}
	return c.reserve(seconds(uint32(cmd.Timeout)))
}

func handleReserveJob(c *Conn, cmd *beanstalk.Command) bool {
	res, err := c.sess.ReserveJob(job.ID(cmd.ID))
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Job("RESERVED", uint64(res.ID), res.Body)
	return true
}

func handleDelete(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.sess.Delete(job.ID(cmd.ID)), beanstalk.ReplyDeleted)
}

func handleRelease(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.sess.Release(job.ID(cmd.ID), cmd.Pri, seconds(cmd.Delay)), beanstalk.ReplyReleased)
}

func handleBury(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.sess.Bury(job.ID(cmd.ID), cmd.Pri), beanstalk.ReplyBuried)
}

func handleKick(c *Conn, cmd *beanstalk.Command) bool {
	c.w.Number("KICKED", uint64(c.sess.Kick(int(cmd.Bound))))
	return true
}

func handleKickJob(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.srv.b.KickJob(job.ID(cmd.ID)), beanstalk.ReplyKicked)
}

func handleTouch(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.sess.Touch(job.ID(cmd.ID)), beanstalk.ReplyTouched)
}

func handleUse(c *Conn, cmd *beanstalk.Command) bool {
	c.sess.Use(cmd.Tube)
	c.w.Named("USING", cmd.Tube)
	return true
}

func handleWatch(c *Conn, cmd *beanstalk.Command) bool {
	c.w.Number("WATCHING", uint64(c.sess.Watch(cmd.Tube)))
	return true
}

func handleIgnore(c *Conn, cmd *beanstalk.Command) bool {
	n, err := c.sess.Ignore(cmd.Tube)
	if err != nil {
		return c.ReplyError(err)
	}
	c.w.Number("WATCHING", uint64(n))
	return true
}

func handleListTubeUsed(c *Conn, _ *beanstalk.Command) bool {
	c.w.Named("USING", c.sess.Used())
	return true
}

func handleListTubes(c *Conn, _ *beanstalk.Command) bool {
	c.list = beanstalk.AppendList(c.list[:0], c.srv.b.ListTubes())
	c.w.OK(c.list)
	return true
}

func handleListTubesWatched(c *Conn, _ *beanstalk.Command) bool {
	c.list = beanstalk.AppendList(c.list[:0], c.sess.Watched())
	c.w.OK(c.list)
	return true
}

func handlePauseTube(c *Conn, cmd *beanstalk.Command) bool {
	return c.done(c.srv.b.PauseTube(cmd.Tube, seconds(cmd.Delay)), beanstalk.ReplyPaused)
}
