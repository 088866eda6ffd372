package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reprieve/reprieve/client"
)

func init() {
	registerClient("reserve", "reserve a job and print its id and body (then --delete or --bury it)", (*cli).reserve)
}

const reserveUsage = `reserve [flags]

Reserves the next job from the watched tubes (--tube, "default" if none)
and prints "reserved job ID on HOST:PORT (N bytes)" and its body; with
--json, {"id":…,"addr":…,"bytes":…,"body":…} ("body_base64" instead of
"body" when the body is not UTF-8 text).

A reservation belongs to the connection that made it: when this command
exits, the job goes back to ready, unless --delete or --bury finished it
first. With several servers in --addr, it waits on all of them at once
(in 1s slices of reserve-with-timeout) and takes the first job any of them
hands out; a second job handed out at the same moment goes back to its
server, with its priority, when the command exits.

--timeout waits at most that long (seconds, or a Go duration; 0 only takes
a job that is ready now); without it, the command waits until a job comes
or it is interrupted. With no job in time it exits with status 1.`

// waitFlag is --timeout: a duration, or "forever".
type waitFlag struct{ d *time.Duration }

func (f waitFlag) String() string {
	if f.d == nil || *f.d < 0 {
		return "forever"
	}
	return f.d.String()
}

func (f waitFlag) Set(s string) error {
	if s == "forever" {
		*f.d = -1
		return nil
	}
	return secondsFlag(f).Set(s)
}

// tubesFlag collects tube names from repeated flags and comma lists.
type tubesFlag struct{ names *[]string }

func (f tubesFlag) String() string {
	if f.names == nil {
		return ""
	}
	return strings.Join(*f.names, ",")
}

func (f tubesFlag) Set(s string) error {
	for _, n := range splitList(s) {
		if err := client.ValidTubeName(n); err != nil {
			return err
		}
		*f.names = append(*f.names, n)
	}
	return nil
}

func (c *cli) reserve(args []string) error {
	var o common
	fs := c.flags("reserve", reserveUsage, true, &o)
	var tubes []string
	fs.Var(tubesFlag{&tubes}, "tube", "`tube` to reserve from; repeat or separate with commas for several (default \"default\")")
	fs.Var(tubesFlag{&tubes}, "watch", "same as --tube")
	timeout := time.Duration(-1)
	fs.Var(waitFlag{&timeout}, "timeout", "wait at most this `duration` for a job: seconds, a Go duration, or forever")
	del := fs.Bool("delete", false, "delete the job after printing it")
	bury := fs.Bool("bury", false, "bury the job after printing it (keeping its priority)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *del && *bury {
		return usagef("--delete and --bury exclude each other")
	}
	if len(tubes) == 0 {
		tubes = []string{"default"}
	}
	ctx := c.context()
	p, err := client.NewPool(ctx, client.PoolConfig{Addrs: o.addrs, DialTimeout: dialTimeout, Dial: c.dialer()})
	if err != nil {
		return usagef("--addr: %v", err)
	}
	defer p.Close()
	h, err := p.Reserve(ctx, timeout, tubes...)
	switch {
	case errors.Is(err, client.ErrTimedOut):
		return fmt.Errorf("no job in tube %s on %s within %v", strings.Join(tubes, ","), strings.Join(o.addrs, ","), timeout)
	case errors.Is(err, client.ErrNoServers) && len(o.addrs) == 1:
		conn, derr := c.dial(o.addrs[0])
		if derr != nil {
			return derr // says why
		}
		conn.Close()
		return fmt.Errorf("cannot connect to %s", o.addrs[0])
	case errors.Is(err, client.ErrNoServers):
		return fmt.Errorf("cannot connect to any of %s", strings.Join(o.addrs, ","))
	case err != nil:
		return describe(err)
	}
	if o.json {
		err = c.printJSON(newJobJSON(h.Addr, h.Job))
	} else {
		c.printJob("reserved", h.Addr, h.Job)
	}
	if err != nil {
		return err
	}
	if *del || *bury {
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if *del {
			err = h.Delete(octx)
		} else {
			err = buryKeepingPriority(octx, c.dialer(), h)
		}
		if err != nil {
			return describe(err)
		}
		if !o.json {
			verb := map[bool]string{true: "deleted", false: "buried"}[*del]
			fmt.Fprintf(c.out, "%s job %d on %s\n", verb, h.ID, h.Addr)
		}
	}
	return nil
}

// buryKeepingPriority buries a reserved job with the priority it has.
func buryKeepingPriority(ctx context.Context, dial func(context.Context, string) (*client.Conn, error), h *client.Handle) error {
	conn, err := dial(ctx, h.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := conn.StatsJob(ctx, h.ID)
	if err != nil {
		return err
	}
	pri, err := s.Uint("pri")
	if err != nil {
		return err
	}
	return h.Bury(ctx, uint32(pri))
}
