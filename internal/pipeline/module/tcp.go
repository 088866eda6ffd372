package module

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

var tcpKinds = []*pipeline.Kind{
	{
		Name:    "output.tcp",
		Summary: "writes each message's body and a delimiter to a TCP server; any failure to connect or write raises, sending the message to failed",
		In:      []string{"inbox"},
		Args: []pipeline.Arg{
			{Name: "host", Type: pipeline.String, Default: "127.0.0.1", Doc: "the server's host"},
			{Name: "port", Type: pipeline.Int, Required: true, Doc: "the server's port"},
			{Name: "timeout", Type: pipeline.Duration, Default: time.Second, Doc: "connect and write timeout"},
			{Name: "delimiter", Type: pipeline.String, Default: "\n", Doc: "written after each message"},
			{Name: "persistent", Type: pipeline.Bool, Default: false, Doc: "keep one connection open for all messages (faster; a message written just before the peer dies can be lost); by default each message gets its own connection"},
			{Name: "confirm", Type: pipeline.Bool, Default: true, Doc: "with a connection per message, half-close it and count the message delivered only when the peer closes its side after reading everything (socat does, after its -t timeout: run it with -t 0); false closes at once, as Wishbone does"},
		},
		Check: func(a pipeline.Args) error {
			if p := a.Int("port"); p < 1 || p > 65535 {
				return &pipeline.ArgError{Arg: "port", Msg: fmt.Sprintf("want 1-65535, got %d", p)}
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &tcpOut{addr: net.JoinHostPort(a.String("host"), strconv.Itoa(a.Int("port"))), timeout: a.Duration("timeout"),
				delim: a.String("delimiter"), persistent: a.Bool("persistent"), confirm: a.Bool("confirm")}, nil
		},
	},
	{
		Name:    "input.tcp",
		Summary: "listens for TCP connections; each delimited line is a message",
		Out:     []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "address", Type: pipeline.String, Default: "127.0.0.1:19283", Doc: "host:port to listen on"},
			{Name: "max_line", Type: pipeline.Int, Default: 1 << 20, Doc: "longest accepted line in bytes; a longer one closes the connection"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &tcpIn{env: env, addr: a.String("address"), maxLine: a.Int("max_line")}, nil
		},
	},
}

// ErrNotConfirmed means the peer did not close its side after our data.
var ErrNotConfirmed = errors.New("module: peer did not confirm by closing")

type tcpOut struct {
	addr       string
	timeout    time.Duration
	delim      string
	persistent bool
	confirm    bool

	mu   sync.Mutex // protects conn
	conn net.Conn
}

// Handle delivers one message; there is deliberately no error handling.
func (t *tcpOut) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	data := append(append(make([]byte, 0, len(m.Body)+len(t.delim)), m.Body...), t.delim...)
	if t.persistent {
		return t.writePersistent(ctx, data)
	}
	d := net.Dialer{Timeout: t.timeout}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(t.timeout))
	if _, err := conn.Write(data); err != nil {
		return err
	}
	if !t.confirm {
		return conn.Close()
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	// The peer closes once it has read everything: proof of delivery.
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return fmt.Errorf("%w: %w", ErrNotConfirmed, err)
	}
	return nil
}

func (t *tcpOut) writePersistent(ctx context.Context, data []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		d := net.Dialer{Timeout: t.timeout}
		c, err := d.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			return err
		}
		t.conn = c
	}
	t.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	if _, err := t.conn.Write(data); err != nil {
		t.conn.Close()
		t.conn = nil
		return err
	}
	return nil
}

// Close closes a persistent connection.
func (t *tcpOut) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
	return nil
}

type tcpIn struct {
	env     *pipeline.Env
	addr    string
	maxLine int
}

// Run accepts connections until ctx ends; it owns one goroutine per
// connection and waits for them.
func (t *tcpIn) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", t.addr)
	if err != nil {
		return fmt.Errorf("input.tcp: %w", err)
	}
	t.env.Log.Info("listening", "address", ln.Addr().String())
	var wg sync.WaitGroup
	var mu sync.Mutex // protects conns
	conns := map[net.Conn]bool{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("input.tcp: %w", err)
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
			t.serve(ctx, c)
		}()
	}
}

func (t *tcpIn) serve(ctx context.Context, c net.Conn) {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), t.maxLine)
	n := 0
	for sc.Scan() {
		n++
		id := fmt.Sprintf("%s#%d", c.RemoteAddr(), n)
		if err := t.env.Emit(ctx, "outbox", pipeline.NewMessage(id, append([]byte(nil), sc.Bytes()...))); err != nil {
			return
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		t.env.Log.Warn("connection closed", "remote", c.RemoteAddr().String(), "error", err)
	}
}
