package main

// This file holds what the command-line client subcommands (client_*.go)
// share: their flags, the connection to one or several servers, the
// duration flags, and how jobs and errors are printed.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/config"
)

// defaultAddr is the server the client subcommands talk to without --addr
// or REPRIEVE_ADDR.
const defaultAddr = "127.0.0.1:11300"

// Timeouts of the client subcommands: connecting, and any command but a
// reserve (which waits as long as --timeout says).
const (
	dialTimeout = 5 * time.Second
	opTimeout   = 30 * time.Second
)

// cli runs the client subcommands with its own input, output and
// environment, so that tests run them in-process.
type cli struct {
	ctx    context.Context // ends on SIGINT/SIGTERM for the real command
	in     io.Reader
	out    io.Writer
	getenv func(string) string

	// tlsFlags are the --tls* flags of the subcommand being parsed; parse
	// turns them into tls (nil: plain TCP), which every connection uses.
	tlsFlags *tlsFlags
	tls      *tls.Config

	// addrs are the servers of the subcommand being parsed.
	addrs *[]string
	// synopsis is the first line of the usage of the subcommand being
	// parsed, for the message about missing arguments.
	synopsis string
}

// stdCLI is the cli of the reprieve command itself.
var stdCLI = &cli{in: os.Stdin, out: os.Stdout, getenv: os.Getenv}

// registerClient registers a client subcommand run by stdCLI, with a
// context that ends on SIGINT or SIGTERM.
func registerClient(name, summary string, run func(c *cli, args []string) error) {
	register(name, summary, func(args []string) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c := *stdCLI
		c.ctx = ctx
		return c.run(run, args)
	})
}

// common holds the flags every client subcommand has.
type common struct {
	addrs []string
	json  bool
	tls   tlsFlags
}

// flags returns the flag set of a subcommand with --addr, the --tls* flags
// and --json (if withJSON) registered; usage is the text shown by --help before the flags,
// starting with the synopsis after "reprieve".
func (c *cli) flags(name, usage string, withJSON bool, o *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := defaultAddr
	if env := c.getenv("REPRIEVE_ADDR"); env != "" {
		def = env
	}
	o.addrs = splitList(def)
	fs.Func("addr", "server `host:port`, or a comma-separated list of servers (default $REPRIEVE_ADDR, else "+defaultAddr+")", func(s string) error {
		o.addrs = splitList(s)
		if len(o.addrs) == 0 {
			return errors.New("empty address")
		}
		return nil
	})
	o.tls.register(fs)
	c.tlsFlags = &o.tls
	c.addrs = &o.addrs
	c.synopsis, _, _ = strings.Cut(strings.TrimSpace(usage), "\n")
	if withJSON {
		fs.BoolVar(&o.json, "json", false, "print JSON for scripts instead of text")
	}
	fs.Usage = func() {
		fmt.Fprintf(c.out, "Usage: reprieve %s\n\nFlags:\n", strings.TrimSpace(usage))
		fs.SetOutput(c.out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, allowing flags after the positional arguments (up to
// a "--"), checks the number of positional arguments and loads the files
// of the --tls* flags.
func (c *cli) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err // the flag package has called fs.Usage
			}
			return nil, usagef("%v (see reprieve %s --help)", err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, usagef("missing arguments: reprieve %s (see reprieve %s --help)", c.synopsis, fs.Name())
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usagef("unexpected arguments %q (see reprieve %s --help)", pos[maxArgs:], fs.Name())
	}
	if c.tlsFlags != nil {
		cfg, err := c.tlsFlags.config()
		if err != nil {
			return nil, err
		}
		c.tls = cfg
	}
	return pos, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// one returns the single server of o, or a usage error for commands whose
// arguments (job ids) only mean something on one server.
func (o *common) one(cmd string) (string, error) {
	if len(o.addrs) != 1 {
		return "", usagef("%s: job ids are per server; give one server with --addr (reserve and put print the server of each job)", cmd)
	}
	return o.addrs[0], nil
}

// dial connects to addr within dialTimeout, over TLS if the --tls* flags
// ask for it.
func (c *cli) dial(addr string) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(c.context(), dialTimeout)
	defer cancel()
	conn, err := c.dialer()(ctx, addr)
	if err != nil {
		return nil, describe(err)
	}
	return conn, nil
}

// opContext bounds a command other than a wait for a job.
func (c *cli) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.context(), opTimeout)
}

func (c *cli) context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// eachServer runs f on a connection to every server of o in turn. With
// one server its failure is the error. With several it goes on past a
// server that cannot be reached or fails f, and returns nil if every one
// succeeded, a partialError if some did, else every failure joined.
func (c *cli) eachServer(o *common, f func(conn *client.Conn) error) error {
	var failed []error
	for _, a := range o.addrs {
		err := c.onServer(a, f)
		if err == nil {
			continue
		}
		if len(o.addrs) == 1 || c.context().Err() != nil {
			return err
		}
		if !strings.Contains(err.Error(), a) {
			err = fmt.Errorf("%s: %w", a, err)
		}
		failed = append(failed, err)
	}
	return partial(len(o.addrs), failed)
}

func (c *cli) onServer(addr string, f func(conn *client.Conn) error) error {
	conn, err := c.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}

// secondsFlag is a duration flag that also takes a plain number of
// seconds, as the protocol does ("30" is "30s").
type secondsFlag struct{ d *time.Duration }

func (f secondsFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f secondsFlag) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// parseSeconds reads a duration in the config dialect: "30" is 30
// seconds, "1m30s" and "2d" carry units.
func parseSeconds(s string) (time.Duration, error) {
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: write seconds (30) or a duration with units (1m30s)", s)
	}
	return d, nil
}

// parseID reads a job id argument.
func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not a job id (a positive whole number)", s)
	}
	return id, nil
}

// jobJSON is a job as the --json output of reserve and peek prints it.
type jobJSON struct {
	ID    uint64 `json:"id"`
	Addr  string `json:"addr"`
	Bytes int    `json:"bytes"`
	// Body is the body as text when it is valid UTF-8, else BodyBase64
	// holds it.
	Body       *string `json:"body,omitempty"`
	BodyBase64 []byte  `json:"body_base64,omitempty"`
}

func newJobJSON(addr string, j client.Job) jobJSON {
	out := jobJSON{ID: j.ID, Addr: addr, Bytes: len(j.Body)}
	if utf8.Valid(j.Body) {
		s := string(j.Body)
		out.Body = &s
	} else {
		out.BodyBase64 = j.Body
	}
	return out
}

// printJob prints a job for people: a line naming it, then its body.
func (c *cli) printJob(verb, addr string, j client.Job) {
	fmt.Fprintf(c.out, "%s job %d on %s (%d bytes)\n", verb, j.ID, addr, len(j.Body))
	if len(j.Body) > 0 {
		c.out.Write(j.Body)
		if j.Body[len(j.Body)-1] != '\n' {
			fmt.Fprintln(c.out)
		}
	}
}

// printJSON prints v as one line of JSON.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// describe turns a client error into what a person should read.
func describe(err error) error {
	var e *client.Error
	var op *net.OpError
	switch {
	case errors.As(err, &e) && errors.Is(err, client.ErrNotFound) && (e.Op == "reserve-job" || e.Op == "fail"):
		return fmt.Errorf("job %d not found on %s, or reserved by another client", e.ID, e.Addr)
	case errors.As(err, &e) && errors.Is(err, client.ErrNotFound) && e.ID != 0:
		return fmt.Errorf("job %d not found on %s", e.ID, e.Addr)
	case errors.As(err, &e) && errors.Is(err, client.ErrNotFound) && e.Tube != "":
		return fmt.Errorf("tube %q not found on %s", e.Tube, e.Addr)
	case errors.As(err, &e) && errors.Is(err, client.ErrJobTooBig):
		return fmt.Errorf("job too big for %s (its limit is the max-job-size of reprieve stats)", e.Addr)
	case errors.As(err, &e) && errors.Is(err, client.ErrDraining):
		return fmt.Errorf("%s is draining and takes no new jobs", e.Addr)
	case errors.As(err, &e) && errors.Is(err, client.ErrOutOfMemory):
		return fmt.Errorf("%s is out of memory (or cannot write its log) and refused the %s", e.Addr, e.Op)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("cannot connect to %s: %v", op.Addr, op.Err)
	}
	return err
}
