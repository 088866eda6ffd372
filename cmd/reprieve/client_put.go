package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reprieve/reprieve/client"
)

func init() {
	registerClient("put", "put a job (body from the argument or stdin) into a tube", (*cli).put)
}

const putUsage = `put [flags] [BODY]

Puts one job whose body is BODY, or standard input if BODY is absent or
"-". With --lines, every line of standard input (without its newline) is a
job of its own.

Prints "inserted job ID into tube TUBE on HOST:PORT" per job; with --json,
one object per job: {"id":…,"addr":…,"tube":…}.

With several servers in --addr, jobs go round robin to the live servers; a
server that is down is skipped, and one that does not answer within
--put-timeout (5s) is taken for dead and the job is sent to another (a job
re-sent after a timeout may exist twice). A dead server's share is spread
evenly over the live ones. --max-in-flight bounds the puts waiting for
their answer per server.

--delay and --ttr take seconds (30) or a Go duration (1m30s), rounded up to
whole seconds.`

func (c *cli) put(args []string) error {
	var o common
	fs := c.flags("put", putUsage, true, &o)
	tube := fs.String("tube", "default", "tube to put into")
	pri := fs.Uint("pri", 1024, "priority: 0 is the most urgent, below 1024 counts as urgent, at most 4294967295")
	delay, ttr := time.Duration(0), 60*time.Second
	fs.Var(secondsFlag{&delay}, "delay", "wait this `duration` before the job becomes ready")
	fs.Var(secondsFlag{&ttr}, "ttr", "time to run (a `duration`): a reserved job not deleted, released or buried within it goes back to ready")
	lines := fs.Bool("lines", false, "put every line of standard input as a job, each as soon as it is read")
	maxInFlight := fs.Int("max-in-flight", 64, "with several servers: puts in flight to one server at most (the pool's bound)")
	putTimeout := 5 * time.Second
	fs.Var(secondsFlag{&putTimeout}, "put-timeout", "with several servers: how long a put waits for its answer before the server is taken for dead and the put is re-sent to another (a `duration`)")
	pos, err := c.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if *pri > 1<<32-1 {
		return usagef("--pri %d is above 4294967295", *pri)
	}
	if err := client.ValidTubeName(*tube); err != nil {
		return usagef("--tube: %v", err)
	}
	if *maxInFlight < 1 {
		return usagef("--max-in-flight %d: give at least 1", *maxInFlight)
	}
	if putTimeout <= 0 {
		return usagef("--put-timeout must be above 0")
	}
	if *lines && len(pos) > 0 {
		return usagef("--lines reads standard input; give no BODY")
	}

	put, done, err := c.putter(&o, *maxInFlight, putTimeout)
	if err != nil {
		return err
	}
	defer done()
	one := func(body []byte) error {
		ctx, cancel := c.opContext()
		ref, err := put(ctx, *tube, body, uint32(*pri), delay, ttr)
		cancel()
		if err != nil {
			var e *client.Error
			if errors.As(err, &e) && errors.Is(err, client.ErrBuried) {
				return fmt.Errorf("job %d was put on %s but buried at once: the server is out of memory", e.ID, e.Addr)
			}
			if errors.Is(err, client.ErrNoServers) {
				return fmt.Errorf("no server of %s took the job: %w", strings.Join(o.addrs, ","), err)
			}
			return describe(err)
		}
		if o.json {
			return c.printJSON(struct {
				ID   uint64 `json:"id"`
				Addr string `json:"addr"`
				Tube string `json:"tube"`
			}{ref.ID, ref.Addr, *tube})
		}
		_, err = fmt.Fprintf(c.out, "inserted job %d into tube %s on %s\n", ref.ID, *tube, ref.Addr)
		return err
	}

	switch {
	case len(pos) == 1 && pos[0] != "-":
		return one([]byte(pos[0]))
	case *lines:
		// Each line is put as soon as it is read, so that a stream that
		// does not end (tail -f) is put as it comes.
		sc := bufio.NewScanner(c.in)
		sc.Buffer(nil, 1<<30)
		for sc.Scan() {
			// A copy: a pool's put may still be sending the body when it
			// returns (re-sent elsewhere after a timeout).
			if err := one(bytes.Clone(sc.Bytes())); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		return nil
	default:
		b, err := io.ReadAll(c.in)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		return one(b)
	}
}

// putFunc puts one job somewhere and says where.
type putFunc func(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (client.JobRef, error)

// putter returns how to put into the servers of o: a connection for one
// server (so that a failure to connect is reported as such), a Pool for
// several. done releases it.
func (c *cli) putter(o *common, maxInFlight int, putTimeout time.Duration) (putFunc, func(), error) {
	if len(o.addrs) == 1 {
		conn, err := c.dial(o.addrs[0])
		if err != nil {
			return nil, nil, err
		}
		put := func(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (client.JobRef, error) {
			id, err := conn.PutIn(ctx, tube, body, pri, delay, ttr)
			return client.JobRef{Addr: conn.Addr(), ID: id}, err
		}
		return put, func() { conn.Close() }, nil
	}
	p, err := client.NewPool(c.context(), client.PoolConfig{Addrs: o.addrs, DialTimeout: dialTimeout, Dial: c.dialer(), MaxInFlight: maxInFlight, PutTimeout: putTimeout})
	if err != nil {
		return nil, nil, usagef("--addr: %v", err)
	}
	return p.Put, func() { p.Close() }, nil
}
