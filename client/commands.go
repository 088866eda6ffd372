package client

import (
	"context"
	"fmt"
	"time"
)

// This file holds the producer and worker commands: use, put, the reserves,
// delete, release, bury, touch, watch, ignore.

// Job is a job as a reserve or peek returns it.
type Job struct {
	ID   uint64
	Body []byte
}

// Use makes puts on this Conn go to tube (created if needed).
func (c *Conn) Use(ctx context.Context, tube string) error {
	if err := ValidTubeName(tube); err != nil {
		return c.opError("use", err)
	}
	replies, err := c.exchange(ctx, nil, func([]Request) []Request {
		return []Request{c.useRequest(tube)}
	})
	if err != nil {
		return c.opError("use", err)
	}
	return c.useDone(tube, replies[0])
}

// useRequest notes that a use of tube is being written; the caller holds the
// pipeline's request turn.
func (c *Conn) useRequest(tube string) Request {
	c.mu.Lock()
	c.used = tube
	c.usesInFlight++
	c.mu.Unlock()
	return Request{Line: "use " + tube}
}

// useDone checks the reply to a use and forgets the used tube if it failed.
func (c *Conn) useDone(tube string, r Reply) error {
	c.mu.Lock()
	c.usesInFlight--
	ok := r.Code == "USING" && len(r.Args) == 1 && r.Args[0] == tube
	if !ok && c.usesInFlight == 0 {
		c.used = ""
	}
	c.mu.Unlock()
	if !ok {
		return c.ReplyError("use", 0, tube, r)
	}
	return nil
}

// Put adds a job to the used tube and returns its id. delay and ttr are
// sent in whole seconds, rounded up. A put answered BURIED (the server
// could not grow its ready queue) returns the id and an error wrapping
// ErrBuried.
func (c *Conn) Put(ctx context.Context, body []byte, pri uint32, delay, ttr time.Duration) (uint64, error) {
	return c.put(ctx, "", body, pri, delay, ttr)
}

// PutIn adds a job to tube, sending a use first unless tube is already the
// used tube; the use and the put go out together, so concurrent PutIn calls
// with different tubes are safe.
func (c *Conn) PutIn(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (uint64, error) {
	if err := ValidTubeName(tube); err != nil {
		return 0, c.opError("put", err)
	}
	return c.put(ctx, tube, body, pri, delay, ttr)
}

func (c *Conn) put(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (uint64, error) {
	req := Request{
		Line:     fmt.Sprintf("put %d %d %d %d", pri, seconds(delay), seconds(ttr), len(body)),
		Body:     body,
		WithBody: true,
	}
	withUse := false
	replies, err := c.exchange(ctx, []Request{req}, func(reqs []Request) []Request {
		if tube == "" {
			return reqs
		}
		c.mu.Lock()
		skip := c.used == tube && c.usesInFlight == 0
		c.mu.Unlock()
		if skip {
			return reqs
		}
		withUse = true
		return []Request{c.useRequest(tube), reqs[0]}
	})
	if err != nil {
		return 0, c.opError("put", err)
	}
	if withUse {
		if err := c.useDone(tube, replies[0]); err != nil {
			// The put ran in the previous tube: undo it.
			if id, ok := replies[1].argUint(0); ok && replies[1].Code == "INSERTED" {
				c.Delete(ctx, id)
			}
			return 0, err
		}
		replies = replies[1:]
	}
	r := replies[0]
	id, ok := r.argUint(0)
	switch {
	case r.Code == "INSERTED" && ok:
		return id, nil
	case r.Code == "BURIED" && ok:
		return id, &Error{Addr: c.addr, Op: "put", ID: id, Tube: tube, Code: r.Code, Line: r.Line, Err: ErrBuried}
	}
	return 0, c.ReplyError("put", 0, tube, r)
}

// Reserve waits for a job in the watched tubes, as long as it takes or
// until ctx ends (which closes the Conn). It returns an error wrapping
// ErrDeadlineSoon when a job this Conn holds is about to time out.
func (c *Conn) Reserve(ctx context.Context) (Job, error) {
	return c.reserve(ctx, "reserve", 0, Request{Line: "reserve"})
}

// ReserveWithTimeout is Reserve waiting at most timeout (in whole seconds,
// rounded up; zero returns at once); it returns an error wrapping
// ErrTimedOut when no job came.
func (c *Conn) ReserveWithTimeout(ctx context.Context, timeout time.Duration) (Job, error) {
	return c.reserve(ctx, "reserve-with-timeout", 0, Request{Line: fmt.Sprintf("reserve-with-timeout %d", seconds(timeout))})
}

// ReserveJob reserves the job with this id if it is ready, delayed or
// buried; otherwise (missing, or reserved by anyone) ErrNotFound.
func (c *Conn) ReserveJob(ctx context.Context, id uint64) (Job, error) {
	return c.reserve(ctx, "reserve-job", id, Request{Line: fmt.Sprintf("reserve-job %d", id)})
}

func (c *Conn) reserve(ctx context.Context, op string, id uint64, req Request) (Job, error) {
	r, err := c.Do(ctx, req)
	if err != nil {
		return Job{}, c.opError(op, err)
	}
	if got, ok := r.argUint(0); r.Code == "RESERVED" && ok {
		return Job{ID: got, Body: r.Body}, nil
	}
	return Job{}, c.ReplyError(op, id, "", r)
}

// Delete removes a job that is ready, delayed, buried or reserved by this
// Conn; otherwise ErrNotFound.
func (c *Conn) Delete(ctx context.Context, id uint64) error {
	return c.simple(ctx, "delete", id, fmt.Sprintf("delete %d", id), "DELETED")
}

// Release puts a job reserved by this Conn back, ready or (with a delay, in
// whole seconds rounded up) delayed, with a new priority. ErrNotFound if this
// Conn does not hold it; ErrBuried if the server buried it instead.
func (c *Conn) Release(ctx context.Context, id uint64, pri uint32, delay time.Duration) error {
	err := c.simple(ctx, "release", id, fmt.Sprintf("release %d %d %d", id, pri, seconds(delay)), "RELEASED")
	return buriedError(err)
}

// Bury moves a job reserved by this Conn to its tube's buried list with a
// new priority; ErrNotFound if this Conn does not hold it.
func (c *Conn) Bury(ctx context.Context, id uint64, pri uint32) error {
	return c.simple(ctx, "bury", id, fmt.Sprintf("bury %d %d", id, pri), "BURIED")
}

// Touch gives a job reserved by this Conn its whole TTR again;
// ErrNotFound if this Conn does not hold it.
func (c *Conn) Touch(ctx context.Context, id uint64) error {
	return c.simple(ctx, "touch", id, fmt.Sprintf("touch %d", id), "TOUCHED")
}

// buriedError turns the BURIED reply of a release, which is not in
// wireErrors because it is bury's success, into ErrBuried.
func buriedError(err error) error {
	if e, ok := err.(*Error); ok && e.Code == "BURIED" {
		e.Err = ErrBuried
	}
	return err
}

// simple sends a command whose only success is the one-word reply ok.
func (c *Conn) simple(ctx context.Context, op string, id uint64, line, ok string) error {
	r, err := c.Do(ctx, Request{Line: line})
	if err != nil {
		return c.opError(op, err)
	}
	if r.Code == ok && len(r.Args) == 0 {
		return nil
	}
	return c.ReplyError(op, id, "", r)
}

// Watch adds tube to the tubes this Conn reserves from and returns how
// many it now watches.
func (c *Conn) Watch(ctx context.Context, tube string) (int, error) {
	return c.watching(ctx, "watch", tube)
}

// Ignore removes tube from the watched tubes and returns how many remain;
// ErrNotIgnored if it is the last one.
func (c *Conn) Ignore(ctx context.Context, tube string) (int, error) {
	return c.watching(ctx, "ignore", tube)
}

func (c *Conn) watching(ctx context.Context, op, tube string) (int, error) {
	if err := ValidTubeName(tube); err != nil {
		return 0, c.opError(op, err)
	}
	r, err := c.Do(ctx, Request{Line: op + " " + tube})
	if err != nil {
		return 0, c.opError(op, err)
	}
	if n, ok := r.argUint(0); r.Code == "WATCHING" && ok {
		return int(n), nil
	}
	return 0, c.ReplyError(op, 0, tube, r)
}

// Quit asks the server to close the connection and closes the Conn.
func (c *Conn) Quit(ctx context.Context) error {
	_, err := c.exchange(ctx, nil, func([]Request) []Request {
		c.w.WriteString("quit\r\n")
		c.w.Flush()
		return nil
	})
	c.Close()
	if err != nil {
		return c.opError("quit", err)
	}
	return nil
}
