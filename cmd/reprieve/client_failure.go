package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reprieve/reprieve/client"
)

// This file holds the client subcommands of Reprieve's failure extensions:
// fail, buried, jobs, flush (and kick --error, in client_tubes.go).

func init() {
	registerClient("fail", "report that a job failed, with its error text; the tube's policy decides what happens", (*cli).fail)
	registerClient("buried", "list a tube's buried jobs with their failure history, without reserving them", (*cli).buried)
	registerClient("jobs", "list a tube's jobs (ready, delayed, reserved, buried) with their stats, without reserving them", (*cli).jobs)
	registerClient("flush", "delete all the jobs of a tube, or those in one state", (*cli).flush)
}

const failUsage = `fail [flags] ID [ERROR TEXT]

Reports that job ID failed, with the error text (the words after ID, or
standard input if there are none; it may hold anything, newlines
included). The job must be ready, delayed or buried (a job a worker
holds is that worker's to fail: NOT_FOUND). It is not reserved first, so
its reserves count (stats-job) does not change. The server records the failure in the job's history and applies the tube's
policy (docs/policies.md), and the command prints what happened:

  job 7 on HOST:PORT: attempt 3 failed; retry at 2026-11-25T10:04:45Z (in 2m15s)
  job 7 on HOST:PORT: gave up after 80 attempts; moved to dead-letter tube dead

On a tube without a policy the job is buried with the error. --json prints
{"id", "addr", "action", "attempts", "delay_seconds", "at", "tube"}.`

const buriedUsage = `buried [flags] TUBE

Lists the buried jobs of TUBE, oldest id first, without reserving them:
one line per job with its id, priority, size, failure count, how the
policy gave up, the tube it came from if it was dead-lettered, and its last
error (its first line). --limit bounds the list (0: every job, fetched a
page of 1000 at a time); --after starts after a job id. --json prints one
object per job with every stats-job key. Revive them with reprieve kick
--tube TUBE [--error TEXT] or reprieve kick-job ID.`

const jobsUsage = `jobs [flags] TUBE

Lists the jobs of TUBE, oldest id first, without reserving them: one line
per job with its id, state, priority, age, time left, size, failures and
last error. --state picks ready, delayed, reserved, buried or all (the
default). --limit bounds the list (0: every job, fetched a page of 1000 at
a time); --after starts after a job id. --json prints one object per job
with every stats-job key.`

const flushUsage = `flush [flags] --state STATE TUBE
       flush [flags] --all TUBE

Deletes the jobs of TUBE in the state given by --state: ready, delayed,
reserved, buried or all; --all is --state all (reserved jobs included,
their workers then get NOT_FOUND). One of the two is required, so that
nothing is flushed by accident. Prints "flushed N jobs from tube TUBE on
HOST:PORT" per server. It cannot be undone.`

func (c *cli) fail(args []string) error {
	var o common
	fs := c.flags("fail", failUsage+"\n\n--addr takes one server: job ids are per server.", true, &o)
	pos, err := c.parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	text := strings.Join(pos[1:], " ")
	if len(pos) == 1 {
		b, err := io.ReadAll(c.in)
		if err != nil {
			return fmt.Errorf("read the error text: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	}
	addr, err := o.one("fail")
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
	res, err := conn.Fail(ctx, id, text)
	if err != nil {
		return describe(err)
	}
	if o.json {
		type failJSON struct {
			ID       uint64 `json:"id"`
			Addr     string `json:"addr"`
			Action   string `json:"action"`
			Attempts int    `json:"attempts"`
			Delay    *int64 `json:"delay_seconds,omitempty"`
			At       string `json:"at,omitempty"`
			Tube     string `json:"tube,omitempty"`
		}
		out := failJSON{ID: id, Addr: addr, Action: res.Action, Attempts: res.Attempts, Tube: res.Tube}
		if res.Action == client.FailRetry {
			d := int64(res.Delay / time.Second)
			out.Delay, out.At = &d, res.At.UTC().Format(time.RFC3339)
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(c.out, "job %d on %s: %s\n", id, addr, res)
	return nil
}

// listFlags holds the flags of buried and jobs.
type listFlags struct {
	common
	state string
	limit int
	after uint64
}

func (c *cli) buried(args []string) error {
	return c.listJobs("buried", buriedUsage, args, false)
}

func (c *cli) jobs(args []string) error {
	return c.listJobs("jobs", jobsUsage, args, true)
}

func (c *cli) listJobs(name, usage string, args []string, withState bool) error {
	var o listFlags
	fs := c.flags(name, usage, true, &o.common)
	o.state = client.StateBuried
	if withState {
		fs.StringVar(&o.state, "state", client.StateAll, "ready, delayed, reserved, buried or all")
	}
	fs.IntVar(&o.limit, "limit", 0, "list at most this many jobs per server (0: all)")
	fs.Uint64Var(&o.after, "after", 0, "list the jobs whose id is above this one")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	tube := pos[0]
	if err := client.ValidTubeName(tube); err != nil {
		return usagef("%v", err)
	}
	if !validState(o.state) {
		return usagef("--state %q: write ready, delayed, reserved, buried or all", o.state)
	}
	if o.limit < 0 {
		return usagef("--limit %d is negative", o.limit)
	}
	type serverJobs struct {
		addr string
		jobs []client.Stats
	}
	var all []serverJobs
	failed := c.eachServer(&o.common, func(conn *client.Conn) error {
		jobs, err := c.fetchJobs(conn, tube, &o)
		if err != nil {
			return describe(err)
		}
		all = append(all, serverJobs{conn.Addr(), jobs})
		return nil
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	for _, s := range all {
		if o.json {
			for _, j := range s.jobs {
				j["addr"] = s.addr
				if err := c.printJSON(j); err != nil {
					return err
				}
			}
			continue
		}
		if len(o.addrs) > 1 {
			fmt.Fprintf(c.out, "== %s ==\n", s.addr)
		}
		if len(s.jobs) == 0 {
			what := "jobs"
			if o.state != client.StateAll {
				what = o.state + " jobs"
			}
			fmt.Fprintf(c.out, "no %s in tube %s on %s\n", what, tube, s.addr)
			continue
		}
		if withState {
			c.printJobTable(s.jobs)
		} else {
			c.printBuriedTable(s.jobs)
		}
	}
	return failed
}

// fetchJobs pages through list-jobs until o.limit jobs or the end.
func (c *cli) fetchJobs(conn *client.Conn, tube string, o *listFlags) ([]client.Stats, error) {
	var out []client.Stats
	after := o.after
	for {
		page := client.MaxListLimit
		if o.limit > 0 {
			page = min(page, o.limit-len(out))
		}
		ctx, cancel := c.opContext()
		jobs, err := conn.ListJobs(ctx, tube, o.state, after, page)
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, jobs...)
		if len(jobs) < page || (o.limit > 0 && len(out) >= o.limit) {
			return out, nil
		}
		after, err = jobs[len(jobs)-1].Uint("id")
		if err != nil {
			return nil, err
		}
	}
}

func validState(s string) bool {
	switch s {
	case client.StateReady, client.StateDelayed, client.StateReserved, client.StateBuried, client.StateAll:
		return true
	}
	return false
}

// firstLine returns the first line of s, tabs made spaces, cut to 100
// bytes.
func firstLine(s string) string {
	s = strings.ReplaceAll(s, "\t", " ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

func (c *cli) printBuriedTable(jobs []client.Stats) {
	w := newTable(c.out, "ID", "PRI", "SIZE", "FAILURES", "GAVE UP", "FROM", "LAST ERROR")
	for _, j := range jobs {
		from := j["origin"]
		if from == j["tube"] {
			from = "-"
		}
		gave := j["gave-up"]
		if gave == "" {
			gave = "-"
		}
		w.row(j["id"], j["pri"], j["size"], j["failures"], gave, from, firstLine(j["last-error"]))
	}
	w.flush()
}

func (c *cli) printJobTable(jobs []client.Stats) {
	w := newTable(c.out, "ID", "STATE", "PRI", "AGE", "TIME-LEFT", "SIZE", "FAILURES", "LAST ERROR")
	for _, j := range jobs {
		age, _ := j.Duration("age")
		left, _ := j.Duration("time-left")
		leftText := "-"
		if j["state"] == client.StateDelayed || j["state"] == client.StateReserved {
			leftText = left.String()
		}
		w.row(j["id"], j["state"], j["pri"], age.String(), leftText, j["size"], j["failures"], firstLine(j["last-error"]))
	}
	w.flush()
}

func (c *cli) flush(args []string) error {
	var o common
	fs := c.flags("flush", flushUsage, true, &o)
	state := fs.String("state", "", "delete the jobs in this state: ready, delayed, reserved, buried or all")
	all := fs.Bool("all", false, "delete every job of the tube, whatever its state (--state all)")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	tube := pos[0]
	if err := client.ValidTubeName(tube); err != nil {
		return usagef("%v", err)
	}
	switch {
	case *all && *state != "" && *state != client.StateAll:
		return usagef("--all and --state %s contradict each other", *state)
	case *all:
		*state = client.StateAll
	case *state == "":
		return usagef("say which jobs of tube %s to delete: --state ready|delayed|reserved|buried|all, or --all", tube)
	}
	if !validState(*state) {
		return usagef("--state %q: write ready, delayed, reserved, buried or all", *state)
	}
	type flushed struct {
		Addr    string `json:"addr"`
		Tube    string `json:"tube"`
		Flushed int    `json:"flushed"`
	}
	var results []flushed
	failed := c.eachServer(&o, func(conn *client.Conn) error {
		ctx, cancel := c.opContext()
		defer cancel()
		n, err := conn.FlushTube(ctx, tube, *state)
		if err != nil {
			return describe(err)
		}
		results = append(results, flushed{conn.Addr(), tube, n})
		return nil
	})
	if failed != nil && !isPartial(failed) {
		return failed
	}
	for _, r := range results {
		if o.json {
			if err := c.printJSON(r); err != nil {
				return err
			}
			continue
		}
		jobs := "jobs"
		if r.Flushed == 1 {
			jobs = "job"
		}
		fmt.Fprintf(c.out, "flushed %d %s from tube %s on %s\n", r.Flushed, jobs, r.Tube, r.Addr)
	}
	return failed
}
