package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/reprieve/reprieve/client"
)

// This file holds the subcommands that act on jobs by id: delete, release,
// bury, touch, kick-job.

func init() {
	registerClient("delete", "delete jobs by id", (*cli).delete)
	registerClient("release", "move a ready, delayed or buried job back to ready or delayed, with a new priority", (*cli).release)
	registerClient("bury", "bury a ready or delayed job by id", (*cli).bury)
	registerClient("touch", "check that a job can be reserved (reserve it by id and touch it)", (*cli).touch)
	registerClient("kick-job", "move buried or delayed jobs to ready, by id", (*cli).kickJob)
}

const deleteUsage = `delete [flags] ID...

Deletes each job (ready, delayed or buried; a job reserved by a worker
cannot be deleted by another connection). Prints "deleted job ID on
HOST:PORT" per job. Every id is tried; the command exits with status 1 if
any was not deleted, naming each.`

const kickJobUsage = `kick-job [flags] ID...

Moves each buried or delayed job to its tube's ready queue. Prints "kicked
job ID on HOST:PORT" per job; exits with status 1 if any was not kicked.`

const releaseUsage = `release [flags] ID

A reservation belongs to one connection, so this command first reserves
the job by id (reserve-job: it must be ready, delayed or buried, not held
by a worker) and then releases it: to ready, or to delayed with --delay.
Without --pri the job keeps its priority. Prints "released job ID on
HOST:PORT".`

const buryUsage = `bury [flags] ID

Reserves the job by id (reserve-job: it must be ready, delayed or buried,
not held by a worker) and buries it. Without --pri it keeps its priority.
Prints "buried job ID on HOST:PORT". Revive it with kick or kick-job.`

const touchUsage = `touch [flags] ID

A worker touches a job it holds to get its whole TTR again; from another
connection that is not possible. This command reserves the job by id
(reserve-job) and touches it, which shows that the job exists and that no
worker holds it; the job is ready again when the command exits. Prints
"touched job ID on HOST:PORT".`

func (c *cli) delete(args []string) error {
	return c.eachID("delete", deleteUsage, args, "deleted", func(ctx context.Context, conn *client.Conn, id uint64) error {
		return conn.Delete(ctx, id)
	})
}

func (c *cli) kickJob(args []string) error {
	return c.eachID("kick-job", kickJobUsage, args, "kicked", func(ctx context.Context, conn *client.Conn, id uint64) error {
		return conn.KickJob(ctx, id)
	})
}

// eachID runs op on every job id of args on one server and prints verb
// per success; it reports every failure.
func (c *cli) eachID(name, usage string, args []string, verb string, op func(context.Context, *client.Conn, uint64) error) error {
	var o common
	fs := c.flags(name, usage+"\n\n--addr takes one server: job ids are per server.", false, &o)
	pos, err := c.parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(pos))
	for i, p := range pos {
		if ids[i], err = parseID(p); err != nil {
			return err
		}
	}
	addr, err := o.one(name)
	if err != nil {
		return err
	}
	conn, err := c.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	var errs []error
	for _, id := range ids {
		ctx, cancel := c.opContext()
		err := op(ctx, conn, id)
		cancel()
		if err != nil {
			errs = append(errs, describe(err))
			if errors.Is(err, client.ErrClosed) {
				break
			}
			continue
		}
		fmt.Fprintf(c.out, "%s job %d on %s\n", verb, id, addr)
	}
	return errors.Join(errs...)
}

func (c *cli) release(args []string) error {
	var o common
	fs := c.flags("release", releaseUsage, false, &o)
	pri := fs.Int64("pri", -1, "new `priority` (default: the job's own)")
	var delay time.Duration
	fs.Var(secondsFlag{&delay}, "delay", "delay before the job is ready again (a `duration`: seconds or a Go duration)")
	return c.reserved("release", fs, &o, args, pri, func(ctx context.Context, conn *client.Conn, id uint64, p uint32) error {
		return conn.Release(ctx, id, p, delay)
	})
}

func (c *cli) bury(args []string) error {
	var o common
	fs := c.flags("bury", buryUsage, false, &o)
	pri := fs.Int64("pri", -1, "new `priority` (default: the job's own)")
	return c.reserved("bury", fs, &o, args, pri, func(ctx context.Context, conn *client.Conn, id uint64, p uint32) error {
		return conn.Bury(ctx, id, p)
	})
}

func (c *cli) touch(args []string) error {
	var o common
	fs := c.flags("touch", touchUsage, false, &o)
	return c.reserved("touch", fs, &o, args, nil, func(ctx context.Context, conn *client.Conn, id uint64, _ uint32) error {
		return conn.Touch(ctx, id)
	})
}

// reserved reserves the job of args by id and runs op on it with the
// priority asked for (pri < 0 or nil: the job's own).
func (c *cli) reserved(name string, fs *flag.FlagSet, o *common, args []string, pri *int64, op func(context.Context, *client.Conn, uint64, uint32) error) error {
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	if pri != nil && *pri > 1<<32-1 {
		return usagef("--pri %d is above 4294967295", *pri)
	}
	addr, err := o.one(name)
	if err != nil {
		return err
	}
	conn, err := c.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := c.opContext()
	defer cancel()
	p := uint32(0)
	if pri != nil && *pri >= 0 {
		p = uint32(*pri)
	} else if pri != nil {
		s, err := conn.StatsJob(ctx, id)
		if err != nil {
			return describe(err)
		}
		n, err := s.Uint("pri")
		if err != nil {
			return err
		}
		p = uint32(n)
	}
	if _, err := conn.ReserveJob(ctx, id); err != nil {
		return describe(err)
	}
	if err := op(ctx, conn, id, p); err != nil {
		return describe(err)
	}
	verb := map[string]string{"release": "released", "bury": "buried", "touch": "touched"}[name]
	_, err = fmt.Fprintf(c.out, "%s job %d on %s\n", verb, id, addr)
	return err
}
