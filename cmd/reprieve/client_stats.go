package main

import (
	"fmt"

	"github.com/reprieve/reprieve/client"
)

// This file holds stats, stats-tube and stats-job.

func init() {
	registerClient("stats", "print the server's statistics", (*cli).stats)
	registerClient("stats-tube", "print a tube's statistics", (*cli).statsTube)
	registerClient("stats-job", "print a job's statistics", (*cli).statsJob)
}

const statsUsage = `stats [flags]

Prints every statistic of the server as "key: value" lines, in the
server's order (the keys are those of beanstalkd's stats, and Reprieve's
extension keys, listed in docs/protocol.md). With --json, one object of
strings keyed by statistic. With several servers in --addr, each server's
block is headed "== HOST:PORT ==", and --json prints one object keyed by
server.`

const statsTubeUsage = `stats-tube [flags] TUBE

Prints every statistic of the tube as "key: value" lines; with --json, an
object of strings. With several servers in --addr, each server's block is
headed "== HOST:PORT ==" (a server without the tube says so), and --json
prints one object keyed by server (null where the tube does not exist).`

const statsJobUsage = `stats-job [flags] ID

Prints every statistic of the job (id, tube, state, pri, age, delay, ttr,
time-left, file, reserves, timeouts, releases, buries, kicks, and
Reprieve's failure history keys) as "key: value" lines; with --json, an
object of strings.`

func (c *cli) stats(args []string) error {
	var o common
	fs := c.flags("stats", statsUsage, true, &o)
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.showStats(&o, "stats", func(conn *client.Conn) (client.Request, string) {
		return client.Request{Line: "stats"}, ""
	})
}

func (c *cli) statsTube(args []string) error {
	var o common
	fs := c.flags("stats-tube", statsTubeUsage, true, &o)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := client.ValidTubeName(pos[0]); err != nil {
		return usagef("%v", err)
	}
	return c.showStats(&o, "stats-tube", func(conn *client.Conn) (client.Request, string) {
		return client.Request{Line: "stats-tube " + pos[0]}, pos[0]
	})
}

func (c *cli) statsJob(args []string) error {
	var o common
	fs := c.flags("stats-job", statsJobUsage, true, &o)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	if _, err := o.one("stats-job"); err != nil {
		return err
	}
	return c.showStats(&o, "stats-job", func(conn *client.Conn) (client.Request, string) {
		return client.Request{Line: fmt.Sprintf("stats-job %d", id)}, ""
	})
}

// serverStats is one server's stats reply, keys in the server's order.
type serverStats struct {
	addr  string
	keys  []string
	stats client.Stats // nil: not found there
}

// showStats sends the stats request of req to every server and prints the
// replies, in the server's key order, as text or JSON.
func (c *cli) showStats(o *common, op string, req func(*client.Conn) (client.Request, string)) error {
	var all []serverStats
	failed := c.eachServer(o, func(conn *client.Conn) error {
		ctx, cancel := c.opContext()
		defer cancel()
		q, tube := req(conn)
		r, err := conn.Do(ctx, q)
		if err != nil {
			return describe(err)
		}
		ss := serverStats{addr: conn.Addr()}
		switch {
		case r.Code == "OK":
			if ss.stats, ss.keys, err = client.ParseStats(r.Body); err != nil {
				return fmt.Errorf("%s on %s: %w", op, conn.Addr(), err)
			}
		case r.Code == "NOT_FOUND" && tube != "" && len(o.addrs) > 1:
			// shown as missing on this server
		default:
			var id uint64
			fmt.Sscanf(q.Line, op+" %d", &id)
			return describe(conn.ReplyError(op, id, tube, r))
		}
		all = append(all, ss)
		return nil
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	if len(o.addrs) == 1 {
		if o.json {
			return c.printJSON(all[0].stats)
		}
		c.printStats(all[0])
		return nil
	}
	if o.json {
		byAddr := map[string]client.Stats{}
		for _, ss := range all {
			byAddr[ss.addr] = ss.stats
		}
		return printed(c.printJSON(byAddr), failed)
	}
	for i, ss := range all {
		if i > 0 {
			fmt.Fprintln(c.out)
		}
		fmt.Fprintf(c.out, "== %s ==\n", ss.addr)
		if ss.stats == nil {
			fmt.Fprintln(c.out, "(no such tube)")
			continue
		}
		c.printStats(ss)
	}
	return failed
}

func (c *cli) printStats(ss serverStats) {
	for _, k := range ss.keys {
		fmt.Fprintf(c.out, "%s: %s\n", k, ss.stats[k])
	}
}
