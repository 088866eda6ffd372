package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"sync"
	"sync/atomic"
)

// Conn is one connection to a beanstalkd-protocol server. It is safe for
// concurrent use: requests from several goroutines are pipelined on the
// connection and their replies read in order. A reserve that blocks on the
// server holds up the replies to everything sent after it, so give each
// worker its own Conn (a Pool does this by itself).
//
// Every method takes a context. If the context ends while a request is in
// flight, the protocol has no way to abandon it, so the Conn is closed: the
// method returns the context's error, later calls return ErrClosed, and the
// server returns the jobs this connection had reserved to their ready queues.
type Conn struct {
	addr string
	nc   net.Conn
	pipe textproto.Pipeline // orders requests and their replies
	// writers counts requests that have taken a pipeline id and not yet
	// been buffered; the one that brings it to zero flushes.
	writers atomic.Int32

	// w is used only by the goroutine holding the pipeline's request turn,
	// r only by the one holding its response turn.
	w *bufio.Writer
	r *bufio.Reader

	mu           sync.Mutex // protects err, used, usesInFlight
	err          error      // why the Conn is unusable, nil while it is usable
	used         string     // the tube named by the last use written ("" = unknown)
	usesInFlight int        // use commands written whose reply is not read yet
}

// Dial connects to the server at addr (host:port). The context bounds the
// connection attempt only.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	return NewConn(nc, addr), nil
}

// NewConn wraps an established connection (TLS, a Unix socket, a test pipe);
// addr names the server in errors. The Conn owns nc and closes it.
func NewConn(nc net.Conn, addr string) *Conn {
	return &Conn{
		addr: addr,
		nc:   nc,
		w:    bufio.NewWriterSize(nc, 16<<10),
		r:    bufio.NewReaderSize(nc, 16<<10),
		used: "default",
	}
}

// Addr returns the server's address as given to Dial.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection at once; requests in flight fail with
// ErrClosed. Closing twice is harmless.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Err returns nil while the Conn is usable, else why it is not (wrapping
// ErrClosed).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail marks the Conn unusable for cause and closes the socket, which
// unblocks every read and write in flight. The first cause wins.
func (c *Conn) fail(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if errors.Is(cause, ErrClosed) {
		c.err = cause
	} else {
		c.err = fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	c.nc.Close()
}

// Request is one command as written on the wire.
type Request struct {
	// Line is the command line without its CRLF, e.g. "delete 42".
	Line string
	// Body, when WithBody is set, follows the line and its own CRLF; the
	// byte count in Line is the caller's to write.
	Body     []byte
	WithBody bool
}

// Reply is one reply as read from the wire.
type Reply struct {
	Line string   // the reply line without CRLF
	Code string   // its first word, e.g. "RESERVED"
	Args []string // the words after Code
	Body []byte   // the data block, for replies that carry one (see bodyReplies)
}

// Do sends one request and reads its reply. It is the building block for
// extension commands; an error is a transport failure (wrapping ErrClosed or
// the context's error), never an error reply, which the caller interprets.
// A request with a body answered UNKNOWN_COMMAND (an extension sent to a
// server without it) closes the Conn after returning the reply: the server
// reads the body as commands of its own, so the replies that follow would
// be theirs.
func (c *Conn) Do(ctx context.Context, req Request) (Reply, error) {
	replies, err := c.exchange(ctx, []Request{req}, nil)
	if err != nil {
		return Reply{}, err
	}
	if req.WithBody && replies[0].Code == "UNKNOWN_COMMAND" {
		c.fail(errBodyAsCommands)
	}
	return replies[0], nil
}

// errBodyAsCommands is why a Conn closes after an unknown command with a
// body.
var errBodyAsCommands = errors.New("the server read an unknown command's body as commands")

// exchange writes reqs in one turn of the pipeline and reads one reply per
// request. before, if set, runs in the request turn just before writing and
// may add requests (the use in front of a put); it returns the requests to
// write.
func (c *Conn) exchange(ctx context.Context, reqs []Request, before func([]Request) []Request) ([]Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	if ctx.Done() != nil { // a context that can end closes the Conn when it does
		stop := context.AfterFunc(ctx, func() { c.fail(context.Cause(ctx)) })
		defer stop()
	}

	c.writers.Add(1)
	id := c.pipe.Next()
	c.pipe.StartRequest(id)
	if before != nil {
		reqs = before(reqs)
	}
	werr := c.Err()
	if werr == nil {
		werr = c.write(reqs)
	} else {
		c.writers.Add(-1)
	}
	c.pipe.EndRequest(id)

	c.pipe.StartResponse(id)
	defer c.pipe.EndResponse(id)
	if werr != nil {
		c.fail(werr)
		return nil, c.interrupted(ctx)
	}
	replies := make([]Reply, 0, len(reqs))
	for range reqs {
		r, err := c.readReply()
		if err != nil {
			c.fail(err)
			return nil, c.interrupted(ctx)
		}
		replies = append(replies, r)
	}
	return replies, nil
}

// interrupted returns the error for a failed exchange: the context's if it
// ended (it is why the socket was closed), else the Conn's.
func (c *Conn) interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return c.Err()
}

// write buffers reqs and flushes the buffer unless another request is
// already queued behind this one: the last of a burst of concurrent
// requests flushes them all in one system call.
func (c *Conn) write(reqs []Request) error {
	for _, q := range reqs {
		c.w.WriteString(q.Line)
		c.w.WriteString("\r\n")
		if q.WithBody {
			c.w.Write(q.Body)
			c.w.WriteString("\r\n")
		}
	}
	if c.writers.Add(-1) > 0 {
		return nil // a request behind this one will flush
	}
	return c.w.Flush()
}
