package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/reprieve/reprieve/client"
)

func init() {
	registerClient("peek", "print a job by id without reserving it", (*cli).peek)
	registerClient("peek-ready", "print the next ready job of a tube", (*cli).peekReady)
	registerClient("peek-delayed", "print the delayed job of a tube that is ready soonest", (*cli).peekDelayed)
	registerClient("peek-buried", "print the buried job of a tube that the next kick revives", (*cli).peekBuried)
}

const peekUsage = `peek [flags] ID

Prints the job without reserving it: "found job ID on HOST:PORT (N bytes)"
and its body; with --json, {"id":…,"addr":…,"bytes":…,"body":…}
("body_base64" instead of "body" when the body is not UTF-8 text).`

const peekStateUsage = `peek-%[1]s [flags]

Prints the %[2]s of --tube without reserving it: "found job ID on
HOST:PORT (N bytes)" and its body; with --json, {"id":…,"addr":…,
"bytes":…,"body":…} ("body_base64" when the body is not UTF-8 text). With
several servers in --addr, prints the first found, in the order given. Exits
with status 1 when there is none.`

var peekWhat = map[string]string{
	"ready":   "next job to be reserved",
	"delayed": "delayed job that becomes ready first",
	"buried":  "buried job that the next kick revives",
}

func (c *cli) peek(args []string) error {
	var o common
	fs := c.flags("peek", peekUsage, true, &o)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	addr, err := o.one("peek")
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
	j, err := conn.Peek(ctx, id)
	if err != nil {
		return describe(err)
	}
	return c.showJob(&o, addr, j)
}

func (c *cli) peekReady(args []string) error   { return c.peekState("ready", args) }
func (c *cli) peekDelayed(args []string) error { return c.peekState("delayed", args) }
func (c *cli) peekBuried(args []string) error  { return c.peekState("buried", args) }

func (c *cli) peekState(state string, args []string) error {
	var o common
	name := "peek-" + state
	fs := c.flags(name, fmt.Sprintf(peekStateUsage, state, peekWhat[state]), true, &o)
	tube := fs.String("tube", "default", "tube to look in")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := client.ValidTubeName(*tube); err != nil {
		return usagef("--tube: %v", err)
	}
	peek := map[string]func(*client.Conn, context.Context) (client.Job, error){
		"ready":   (*client.Conn).PeekReady,
		"delayed": (*client.Conn).PeekDelayed,
		"buried":  (*client.Conn).PeekBuried,
	}[state]
	for _, addr := range o.addrs {
		conn, err := c.dial(addr)
		if err != nil {
			return err
		}
		ctx, cancel := c.opContext()
		err = conn.Use(ctx, *tube)
		var j client.Job
		if err == nil {
			j, err = peek(conn, ctx)
		}
		cancel()
		conn.Close()
		switch {
		case err == nil:
			return c.showJob(&o, addr, j)
		case !errors.Is(err, client.ErrNotFound):
			return describe(err)
		}
	}
	return fmt.Errorf("no %s job in tube %s on %s", state, *tube, strings.Join(o.addrs, ","))
}

// showJob prints a peeked job as text or JSON.
func (c *cli) showJob(o *common, addr string, j client.Job) error {
	if o.json {
		return c.printJSON(newJobJSON(addr, j))
	}
	c.printJob("found", addr, j)
	return nil
}
