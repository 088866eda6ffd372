package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reprieve/reprieve/client"
)

// This file holds the subcommands about tubes: tubes, kick, pause-tube.

func init() {
	registerClient("tubes", "list the tubes with their job counts", (*cli).tubes)
	registerClient("kick", "move up to BOUND buried (else delayed) jobs of a tube to ready", (*cli).kick)
	registerClient("pause-tube", "stop reserves from a tube for a while", (*cli).pauseTube)
}

const tubesUsage = `tubes [flags]

Lists the tubes, one per line with their jobs by state:

  TUBE      READY  RESERVED  DELAYED  BURIED  PAUSED
  default       3         0        1       2  -

(PAUSED is the time left of a pause-tube, or "-"). With --names, only the
names. With --json, an array of {"name":…,"ready":…,"reserved":…,
"delayed":…,"buried":…,"pause_time_left":…} (seconds). With several servers
in --addr, each server's table is headed "== HOST:PORT ==", and --json
prints one object keyed by server.`

const kickUsage = `kick [flags] [BOUND]

Moves up to BOUND jobs (default 1) of --tube to ready: its buried jobs if
it has any, else its delayed ones. Prints "kicked N jobs in tube TUBE on
HOST:PORT"; with --json, {"addr":…,"tube":…,"kicked":N}. With several
servers in --addr, each server kicks up to BOUND jobs and prints its line
(--json: an array).

With --error TEXT (a Reprieve extension, kick-tube), only buried jobs whose
last error contains TEXT are kicked, longest buried first, and BOUND
defaults to every such job; dead letters go back to the tube they came
from.`

const pauseTubeUsage = `pause-tube [flags] TUBE DURATION

Stops reserves from TUBE for DURATION (seconds, or a Go duration such as
10m, rounded up to whole seconds; 0 ends a pause). Puts still go in. Prints
"paused tube TUBE for DURATION on HOST:PORT". With several servers in
--addr, pauses it on each server that has it; it is an error only if none
has it.`

// tubeRow is one line of the tubes table.
type tubeRow struct {
	Name          string `json:"name"`
	Ready         int64  `json:"ready"`
	Reserved      int64  `json:"reserved"`
	Delayed       int64  `json:"delayed"`
	Buried        int64  `json:"buried"`
	PauseTimeLeft int64  `json:"pause_time_left"`
}

func (c *cli) tubes(args []string) error {
	var o common
	fs := c.flags("tubes", tubesUsage, true, &o)
	names := fs.Bool("names", false, "print only the tube names")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	byAddr := map[string][]tubeRow{}
	var order []string
	failed := c.eachServer(&o, func(conn *client.Conn) error {
		ctx, cancel := c.opContext()
		defer cancel()
		list, err := conn.ListTubes(ctx)
		if err != nil {
			return describe(err)
		}
		rows := []tubeRow{}
		for _, name := range list {
			row := tubeRow{Name: name}
			if !*names {
				s, err := conn.StatsTube(ctx, name)
				if errors.Is(err, client.ErrNotFound) {
					continue // removed since it was listed
				}
				if err != nil {
					return describe(err)
				}
				row.Ready, _ = s.Int("current-jobs-ready")
				row.Reserved, _ = s.Int("current-jobs-reserved")
				row.Delayed, _ = s.Int("current-jobs-delayed")
				row.Buried, _ = s.Int("current-jobs-buried")
				row.PauseTimeLeft, _ = s.Int("pause-time-left")
			}
			rows = append(rows, row)
		}
		byAddr[conn.Addr()] = rows
		order = append(order, conn.Addr())
		return nil
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	if o.json {
		if len(o.addrs) == 1 {
			if *names {
				return c.printJSON(rowNames(byAddr[order[0]]))
			}
			return c.printJSON(byAddr[order[0]])
		}
		if *names {
			out := map[string][]string{}
			for a, rows := range byAddr {
				out[a] = rowNames(rows)
			}
			return printed(c.printJSON(out), failed)
		}
		return printed(c.printJSON(byAddr), failed)
	}
	for i, a := range order {
		if len(o.addrs) > 1 {
			if i > 0 {
				fmt.Fprintln(c.out)
			}
			fmt.Fprintf(c.out, "== %s ==\n", a)
		}
		c.printTubes(byAddr[a], *names)
	}
	return failed
}

func rowNames(rows []tubeRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

// printTubes prints the tubes table with columns as wide as their widest
// cell.
func (c *cli) printTubes(rows []tubeRow, names bool) {
	if names {
		for _, r := range rows {
			fmt.Fprintln(c.out, r.Name)
		}
		return
	}
	table := [][]string{{"TUBE", "READY", "RESERVED", "DELAYED", "BURIED", "PAUSED"}}
	for _, r := range rows {
		paused := "-"
		if r.PauseTimeLeft > 0 {
			paused = (time.Duration(r.PauseTimeLeft) * time.Second).String()
		}
		table = append(table, []string{r.Name, itoa(r.Ready), itoa(r.Reserved), itoa(r.Delayed), itoa(r.Buried), paused})
	}
	width := make([]int, len(table[0]))
	for _, row := range table {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	for _, row := range table {
		var b strings.Builder
		for i, cell := range row {
			switch {
			case i == 0:
				fmt.Fprintf(&b, "%-*s", width[i], cell)
			case i == len(row)-1:
				fmt.Fprintf(&b, "  %s", cell)
			default:
				fmt.Fprintf(&b, "  %*s", width[i], cell)
			}
		}
		fmt.Fprintln(c.out, b.String())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (c *cli) kick(args []string) error {
	var o common
	fs := c.flags("kick", kickUsage, true, &o)
	tube := fs.String("tube", "default", "tube whose jobs to kick")
	errText := fs.String("error", "", "kick only the buried jobs whose last error contains this `text` (Reprieve)")
	pos, err := c.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	bound := 1
	if *errText != "" {
		bound = 1<<31 - 1
	}
	if len(pos) == 1 {
		n, err := strconv.ParseUint(pos[0], 10, 31)
		if err != nil {
			return usagef("BOUND %q is not a whole number", pos[0])
		}
		bound = int(n)
	}
	if err := client.ValidTubeName(*tube); err != nil {
		return usagef("--tube: %v", err)
	}
	type kicked struct {
		Addr   string `json:"addr"`
		Tube   string `json:"tube"`
		Kicked int    `json:"kicked"`
	}
	var results []kicked
	failed := c.eachServer(&o, func(conn *client.Conn) error {
		ctx, cancel := c.opContext()
		defer cancel()
		n := 0
		var err error
		if *errText != "" {
			n, err = conn.KickTube(ctx, *tube, bound, *errText)
		} else if err = conn.Use(ctx, *tube); err == nil {
			n, err = conn.Kick(ctx, bound)
		}
		if err != nil {
			return describe(err)
		}
		results = append(results, kicked{conn.Addr(), *tube, n})
		return nil
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	if o.json {
		if len(o.addrs) == 1 {
			return c.printJSON(results[0])
		}
		return printed(c.printJSON(results), failed)
	}
	for _, r := range results {
		jobs := "jobs"
		if r.Kicked == 1 {
			jobs = "job"
		}
		fmt.Fprintf(c.out, "kicked %d %s in tube %s on %s\n", r.Kicked, jobs, r.Tube, r.Addr)
	}
	return failed
}

func (c *cli) pauseTube(args []string) error {
	var o common
	fs := c.flags("pause-tube", pauseTubeUsage, false, &o)
	pos, err := c.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	tube := pos[0]
	if err := client.ValidTubeName(tube); err != nil {
		return usagef("%v", err)
	}
	d, err := parseSeconds(pos[1])
	if err != nil {
		return usagef("DURATION: %v", err)
	}
	paused := 0
	failed := c.eachServer(&o, func(conn *client.Conn) error {
		ctx, cancel := c.opContext()
		defer cancel()
		err := conn.PauseTube(ctx, tube, d)
		if errors.Is(err, client.ErrNotFound) && len(o.addrs) > 1 {
			return nil
		}
		if err != nil {
			return describe(err)
		}
		paused++
		_, err = fmt.Fprintf(c.out, "paused tube %s for %v on %s\n", tube, d.Round(time.Second), conn.Addr())
		return err
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	if paused == 0 {
		return fmt.Errorf("tube %q not found on %s", tube, strings.Join(o.addrs, ","))
	}
	return failed
}
