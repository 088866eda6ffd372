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
server that is down or does not answer within 5s is skipped and the job is
sent to the next one (a job re-sent after a timeout may exist twice).

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
	lines := fs.Bool("lines", false, "put every line of standard input as a job")
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
	if *lines && len(pos) > 0 {
		return usagef("--lines reads standard input; give no BODY")
	}

	var bodies [][]byte
	switch {
	case len(pos) == 1 && pos[0] != "-":
		bodies = [][]byte{[]byte(pos[0])}
	case *lines:
		sc := bufio.NewScanner(c.in)
		sc.Buffer(nil, 1<<30)
		for sc.Scan() {
			bodies = append(bodies, bytes.Clone(sc.Bytes()))
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
	default:
		b, err := io.ReadAll(c.in)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		bodies = [][]byte{b}
	}

	put, done, err := c.putter(&o)
	if err != nil {
		return err
	}
	defer done()
	for _, body := range bodies {
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
			err = c.printJSON(struct {
				ID   uint64 `json:"id"`
				Addr string `json:"addr"`
				Tube string `json:"tube"`
			}{ref.ID, ref.Addr, *tube})
		} else {
			_, err = fmt.Fprintf(c.out, "inserted job %d into tube %s on %s\n", ref.ID, *tube, ref.Addr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// putFunc puts one job somewhere and says where.
type putFunc func(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr time.Duration) (client.JobRef, error)

// putter returns how to put into the servers of o: a connection for one
// server (so that a failure to connect is reported as such), a Pool for
// several. done releases it.
func (c *cli) putter(o *common) (putFunc, func(), error) {
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
	p, err := client.NewPool(c.context(), client.PoolConfig{Addrs: o.addrs, DialTimeout: dialTimeout, Dial: c.dialer()})
	if err != nil {
		return nil, nil, usagef("--addr: %v", err)
	}
	return p.Put, func() { p.Close() }, nil
}
