package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/servertest"
)

// epoch is the fake clock's start: every time in the replies derives from it.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is a Reprieve server in-process with its admin interface on
// loopback, driven by a fake clock.
type env struct {
	srv   *servertest.Server
	clk   *clock.Fake
	url   string
	token string
	http  *http.Client
	logs  *lockedBuffer
}

// options vary the admin interface of an env.
type options struct {
	token         string
	metricsPublic bool
	config        func(*admin.Config)
	// hosts are the names answered besides loopback (ListenConfig.Hosts).
	hosts []string
	// maxGone is NewObserver's bound on remembered dropped tubes.
	maxGone int
}

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start starts the server and its admin interface; t.Cleanup stops both.
func start(t *testing.T, o options) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	observer := admin.NewObserver(o.maxGone)
	srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{Clock: clk, Observer: observer}})
	logs := &lockedBuffer{}
	cfg := admin.Config{
		Broker:        srv.Broker,
		Stats:         srv.Server.Stats,
		Stopping:      srv.Server.Stopping,
		Commands:      srv.Server.Count,
		Observer:      observer,
		Token:         o.token,
		MetricsPublic: o.metricsPublic,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h, err := admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, hc := serveHTTP(t, h, o.hosts...)
	return &env{srv: srv, clk: clk, url: url, token: o.token, http: hc, logs: logs}
}

// serveHTTP serves h on a loopback port, answering also to hosts, until
// the test ends and returns its base URL and a client for it.
func serveHTTP(t *testing.T, h http.Handler, hosts ...string) (string, *http.Client) {
	t.Helper()
	as, err := admin.Listen(admin.ListenConfig{Addr: "127.0.0.1:0", Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	as.Start(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := as.Shutdown(ctx); err != nil {
			t.Errorf("admin shutdown: %v", err)
		}
	})
	hc := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return as.URL(), hc
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends method path with the env's token (if any) and returns the reply.
func (e *env) do(t *testing.T, method, path string) reply {
	t.Helper()
	return e.doToken(t, method, path, e.token)
}

// doToken sends method path with token ("" sends no Authorization header);
// a POST says Content-Type: application/json, with an empty body.
func (e *env) doToken(t *testing.T, method, path, token string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		// Actions are JSON, even without a body (guard.go).
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// want checks the status and the exact body of a reply.
func (r reply) want(t *testing.T, what string, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Errorf("%s: got %d\n%s\nwant %d\n%s", what, r.status, r.body, status, body)
	}
}

// decode unmarshals a JSON reply, failing on a status other than 200.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// dial connects a beanstalk client to the server.
func (e *env) dial(t *testing.T) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// put puts body into tube over the protocol and returns its id.
func put(t *testing.T, c *client.Conn, tube, body string) uint64 {
	t.Helper()
	id, err := c.PutIn(context.Background(), tube, []byte(body), 1024, 0, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// bury puts a job into tube, reserves it and fails it with errText, so
// that it is buried with that error in its history; it returns its id.
func bury(t *testing.T, c *client.Conn, tube, body, errText string) uint64 {
	t.Helper()
	ctx := context.Background()
	id := put(t, c, tube, body)
	if _, err := c.Watch(ctx, tube); err != nil {
		t.Fatal(err)
	}
	j, err := c.ReserveJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Fail(ctx, j.ID, errText); err != nil || res.Action != client.FailBuried {
		t.Fatalf("fail %d: %v %v", id, res, err)
	}
	return id
}
