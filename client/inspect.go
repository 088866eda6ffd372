package client

import (
	"context"
	"fmt"
	"time"
)

// This file holds the commands that look at and manage the server: peek,
// kick, stats, list-tubes, pause-tube.

// Peek returns the job with this id, in whatever state; ErrNotFound if
// there is none.
func (c *Conn) Peek(ctx context.Context, id uint64) (Job, error) {
	return c.peek(ctx, "peek", id, fmt.Sprintf("peek %d", id))
}

// PeekReady returns the next job to be reserved from the used tube;
// ErrNotFound if none is ready.
func (c *Conn) PeekReady(ctx context.Context) (Job, error) {
	return c.peek(ctx, "peek-ready", 0, "peek-ready")
}

// PeekDelayed returns the delayed job of the used tube that becomes ready
// first; ErrNotFound if none is delayed.
func (c *Conn) PeekDelayed(ctx context.Context) (Job, error) {
	return c.peek(ctx, "peek-delayed", 0, "peek-delayed")
}

// PeekBuried returns the buried job of the used tube that the next kick
// revives; ErrNotFound if none is buried.
func (c *Conn) PeekBuried(ctx context.Context) (Job, error) {
	return c.peek(ctx, "peek-buried", 0, "peek-buried")
}

func (c *Conn) peek(ctx context.Context, op string, id uint64, line string) (Job, error) {
	r, err := c.Do(ctx, Request{Line: line})
	if err != nil {
		return Job{}, c.opError(op, err)
	}
	if got, ok := r.argUint(0); r.Code == "FOUND" && ok {
		return Job{ID: got, Body: r.Body}, nil
	}
	return Job{}, c.ReplyError(op, id, "", r)
}

// Kick revives up to bound jobs of the used tube: buried ones if it has
// any, else delayed ones. It returns how many it revived.
func (c *Conn) Kick(ctx context.Context, bound int) (int, error) {
	if bound < 0 {
		bound = 0
	}
	r, err := c.Do(ctx, Request{Line: fmt.Sprintf("kick %d", bound)})
	if err != nil {
		return 0, c.opError("kick", err)
	}
	if n, ok := r.argUint(0); r.Code == "KICKED" && ok {
		return int(n), nil
	}
	return 0, c.ReplyError("kick", 0, "", r)
}

// KickJob revives one buried or delayed job; ErrNotFound if there is no
// such job or it is in another state.
func (c *Conn) KickJob(ctx context.Context, id uint64) error {
	return c.simple(ctx, "kick-job", id, fmt.Sprintf("kick-job %d", id), "KICKED")
}

// Stats returns the server's statistics.
func (c *Conn) Stats(ctx context.Context) (Stats, error) {
	return c.stats(ctx, "stats", 0, "", "stats")
}

// StatsTube returns a tube's statistics; ErrNotFound if the tube does not
// exist.
func (c *Conn) StatsTube(ctx context.Context, tube string) (Stats, error) {
	if err := ValidTubeName(tube); err != nil {
		return nil, c.opError("stats-tube", err)
	}
	return c.stats(ctx, "stats-tube", 0, tube, "stats-tube "+tube)
}

// StatsJob returns a job's statistics; ErrNotFound if there is no such job.
func (c *Conn) StatsJob(ctx context.Context, id uint64) (Stats, error) {
	return c.stats(ctx, "stats-job", id, "", fmt.Sprintf("stats-job %d", id))
}

func (c *Conn) stats(ctx context.Context, op string, id uint64, tube, line string) (Stats, error) {
	r, err := c.Do(ctx, Request{Line: line})
	if err != nil {
		return nil, c.opError(op, err)
	}
	if r.Code != "OK" {
		return nil, c.ReplyError(op, id, tube, r)
	}
	s, _, err := ParseStats(r.Body)
	if err != nil {
		return nil, c.opError(op, err)
	}
	return s, nil
}

// ListTubes returns the names of all tubes, in the server's order.
func (c *Conn) ListTubes(ctx context.Context) ([]string, error) {
	return c.list(ctx, "list-tubes")
}

// ListTubesWatched returns the names of the tubes this Conn watches.
func (c *Conn) ListTubesWatched(ctx context.Context) ([]string, error) {
	return c.list(ctx, "list-tubes-watched")
}

func (c *Conn) list(ctx context.Context, op string) ([]string, error) {
	r, err := c.Do(ctx, Request{Line: op})
	if err != nil {
		return nil, c.opError(op, err)
	}
	if r.Code != "OK" {
		return nil, c.ReplyError(op, 0, "", r)
	}
	names, err := ParseList(r.Body)
	if err != nil {
		return nil, c.opError(op, err)
	}
	return names, nil
}

// ListTubeUsed returns the tube this Conn puts into.
func (c *Conn) ListTubeUsed(ctx context.Context) (string, error) {
	r, err := c.Do(ctx, Request{Line: "list-tube-used"})
	if err != nil {
		return "", c.opError("list-tube-used", err)
	}
	if r.Code == "USING" && len(r.Args) == 1 {
		return r.Args[0], nil
	}
	return "", c.ReplyError("list-tube-used", 0, "", r)
}

// PauseTube stops reserves from tube for d (whole seconds, rounded up; zero
// ends a pause); ErrNotFound if the tube does not exist.
func (c *Conn) PauseTube(ctx context.Context, tube string, d time.Duration) error {
	if err := ValidTubeName(tube); err != nil {
		return c.opError("pause-tube", err)
	}
	r, err := c.Do(ctx, Request{Line: fmt.Sprintf("pause-tube %s %d", tube, seconds(d))})
	if err != nil {
		return c.opError("pause-tube", err)
	}
	if r.Code == "PAUSED" && len(r.Args) == 0 {
		return nil
	}
	return c.ReplyError("pause-tube", 0, tube, r)
}
