package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/server"
)

// start serves a fresh broker on 127.0.0.1:0; the caller stops it.
func start(t testing.TB, cfg server.Config) (*server.Server, string, func() error) {
	t.Helper()
	b := broker.New(broker.Config{})
	t.Cleanup(b.Close)
	cfg.Broker = b
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var serveErr error
	go func() { serveErr = srv.Serve(ln); close(done) }()
	wait := func() error { <-done; return serveErr }
	t.Cleanup(func() { _ = srv.Close(); _ = wait() })
	return srv, ln.Addr().String(), wait
}

func dial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func line(t testing.TB, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, s)
	}
	return s
}

func expectEOF(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if b, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("want EOF, got %q, %v", b, err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := server.New(server.Config{}); err == nil {
		t.Fatal("New without a broker succeeded")
	}
	b := broker.New(broker.Config{})
	defer b.Close()
	if _, err := server.New(server.Config{Broker: b, MaxJobSize: -1}); err == nil {
		t.Fatal("New with a negative MaxJobSize succeeded")
	}
}

func TestShutdownAnswersPipelinedCommands(t *testing.T) {
	srv, addr, served := start(t, server.Config{})
	c, r := dial(t, addr)
	const n = 100
	var cmds strings.Builder
	for i := 0; i < n; i++ {
		cmds.WriteString("put 0 0 1 1\r\nx\r\n")
	}
	if _, err := io.WriteString(c, cmds.String()); err != nil {
		t.Fatal(err)
	}
	if got := line(t, r); got != "INSERTED 1\r\n" {
		t.Fatalf("got %q", got)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i := 2; i <= n; i++ {
		if got := line(t, r); got != fmt.Sprintf("INSERTED %d\r\n", i) {
			t.Fatalf("reply %d: %q", i, got)
		}
	}
	expectEOF(t, r)
	if err := served(); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownEndsBlockedReserveAndIdleConnections(t *testing.T) {
	srv, addr, _ := start(t, server.Config{})
	idle, idleR := dial(t, addr)
	w, wr := dial(t, addr)
	if _, err := io.WriteString(w, "reserve\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(idle, "list-tube-used\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := line(t, idleR); got != "USING default\r\n" {
		t.Fatalf("got %q", got)
	}
	poll.Until(t, "the reserve waits", func() bool { return srv.Broker().Stats().CurrentWaiting == 1 })
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectEOF(t, wr)
	expectEOF(t, idleR)
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("dial after shutdown succeeded")
	}
}

func TestShutdownTimeoutClosesConnections(t *testing.T) {
	srv, addr, _ := start(t, server.Config{})
	c, r := dial(t, addr)
	// A put whose body never comes: the command is in flight. The reply to
	// list-tube-used is sent when the server waits for the body, so once it
	// is read the put line has been read too.
	if _, err := io.WriteString(c, "list-tube-used\r\nput 0 0 1 10\r\nab"); err != nil {
		t.Fatal(err)
	}
	if got := line(t, r); got != "USING default\r\n" {
		t.Fatalf("got %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want deadline exceeded", err)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open")
	}
}

func TestDraining(t *testing.T) {
	srv, addr, _ := start(t, server.Config{})
	c, r := dial(t, addr)
	srv.SetDraining(true)
	if _, err := io.WriteString(c, "put 0 0 1 1\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := line(t, r); got != "DRAINING\r\n" {
		t.Fatalf("got %q", got)
	}
	if srv.Count(beanstalk.OpPut) != 1 {
		t.Fatalf("cmd-put %d", srv.Count(beanstalk.OpPut))
	}
}

// The extension keys end each stats reply, after beanstalkd's, and
// Config's Binlog, Version and ExtraStats fill theirs.
func TestExtensions(t *testing.T) {
	_, addr, _ := start(t, server.Config{
		ExtraStats: func() []beanstalk.KeyValue { return []beanstalk.KeyValue{{Key: "x-test-extra", Value: "42"}} },
		Binlog:     func() server.BinlogStats { return server.BinlogStats{CurrentIndex: 7, MaxSize: 1 << 20} },
		Version:    "9.9",
	})
	c, r := dial(t, addr)
	io.WriteString(c, "put 0 0 1 3\r\nabc\r\nstats-job 1\r\nstats-tube default\r\nstats\r\n")
	want := []string{"INSERTED 1\r\n"}
	for _, w := range want {
		if got := line(t, r); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	body := func() string {
		h := line(t, r)
		var n int
		if _, err := fmt.Sscanf(h, "OK %d\r\n", &n); err != nil {
			t.Fatalf("got %q", h)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if js := body(); !strings.Contains(js, "\nkicks: 0\nsize: 3\nfailures: 0\n") || !strings.HasSuffix(js, "\norigin: default\ngave-up: \"\"\nrevivals: 0\nlast-revival: \"\"\n\r\n") {
		t.Fatalf("stats-job: %q", js)
	}
	if ts := body(); !strings.HasSuffix(ts, "\npause-time-left: 0\ntotal-failures: 0\ntotal-gave-up: 0\ntotal-expired: 0\ncurrent-buried-bytes: 0\n"+
		"limit-concurrency: 0\nlimit-rate: \"\"\nlimit-burst: 0\nunique: \"\"\ntotal-held-by-concurrency: 0\ntotal-held-by-rate: 0\ntotal-duplicates: 0\n\r\n") {
		t.Fatalf("stats-tube: %q", ts)
	}
	st := body()
	for _, want := range []string{"\nversion: \"9.9\"\n", "\nbinlog-current-index: 7\n", "\nbinlog-max-size: 1048576\n",
		"\nplatform: ", "\ncmd-flush-tube: 0\ncmd-claim: 0\ntotal-connections-refused: 0\ntotal-failures: 0\ntotal-gave-up: 0\ntotal-expired: 0\nx-test-extra: 42\n\r\n"} {
		if !strings.Contains(st, want) {
			t.Fatalf("stats lacks %q: %q", want, st)
		}
	}
}
