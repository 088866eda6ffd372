package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/servertest"
)

// t0 is the fake clock's start: a Friday evening, when things break.
var t0 = time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)

// env is a Reprieve server on a fake clock with policies from YAML.
type env struct {
	t     *testing.T
	srv   *servertest.Server
	clock *clock.Fake
	log   *syncBuffer
	ctx   context.Context
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startEnv(t *testing.T, config string) *env {
	t.Helper()
	set, err := policy.Parse("test.yaml", []byte(config))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	fc := clock.NewFake(t0)
	logs := &syncBuffer{}
	srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{
		Clock:    fc,
		Policies: set,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
	}})
	return &env{t: t, srv: srv, clock: fc, log: logs, ctx: context.Background()}
}

// dial opens a client connection.
func (e *env) dial() *client.Conn {
	e.t.Helper()
	c, err := client.Dial(e.ctx, e.srv.Addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// raw is a connection that speaks bytes, for exact replies.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) raw() *raw {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.srv.Addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	return &raw{t: e.t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends req (CRLFs included) and returns the reply line and, for OK,
// FOUND, RESERVED and CLAIMED, its data block (whose size is the last word).
func (r *raw) do(req string) string {
	r.t.Helper()
	if _, err := r.nc.Write([]byte(req)); err != nil {
		r.t.Fatal(err)
	}
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("reply to %q: %v", req, err)
	}
	w := strings.Fields(line)
	if len(w) > 0 && (w[0] == "OK" || w[0] == "FOUND" || w[0] == "RESERVED" || w[0] == "CLAIMED") {
		var n int
		for _, c := range w[len(w)-1] {
			n = n*10 + int(c-'0')
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.br, buf); err != nil {
			r.t.Fatal(err)
		}
		return line + string(buf)
	}
	return line
}

// expect sends req and checks the exact reply.
func (r *raw) expect(req, want string) {
	r.t.Helper()
	if got := r.do(req); got != want {
		r.t.Fatalf("%q answered %q, want %q", req, got, want)
	}
}

// stat returns one key of a stats dictionary.
func stat(t *testing.T, s client.Stats, key string) string {
	t.Helper()
	v, ok := s[key]
	if !ok {
		t.Fatalf("stats lack key %q: %v", key, s)
	}
	return v
}

func (e *env) statsJob(c *client.Conn, id uint64) client.Stats {
	e.t.Helper()
	s, err := c.StatsJob(e.ctx, id)
	if err != nil {
		e.t.Fatalf("stats-job %d: %v", id, err)
	}
	return s
}

func (e *env) statsTube(c *client.Conn, tube string) client.Stats {
	e.t.Helper()
	s, err := c.StatsTube(e.ctx, tube)
	if err != nil {
		e.t.Fatalf("stats-tube %s: %v", tube, err)
	}
	return s
}

// put puts body into tube and returns its id.
func (e *env) put(c *client.Conn, tube, body string, ttr time.Duration) uint64 {
	e.t.Helper()
	id, err := c.PutIn(e.ctx, tube, []byte(body), 0, 0, ttr)
	if err != nil {
		e.t.Fatalf("put: %v", err)
	}
	return id
}

// reserveNow reserves from tube without waiting and checks the id.
func (e *env) reserveNow(c *client.Conn, tube string, want uint64) {
	e.t.Helper()
	if _, err := c.Watch(e.ctx, tube); err != nil {
		e.t.Fatal(err)
	}
	j, err := c.ReserveWithTimeout(e.ctx, 0)
	if err != nil {
		e.t.Fatalf("reserve from %s: %v", tube, err)
	}
	if j.ID != want {
		e.t.Fatalf("reserved job %d, want %d", j.ID, want)
	}
}
