package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/server"
)

func debugLogger(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog polls the log until it holds want, failing after ten seconds.
func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q; it holds:\n%s", want, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosed reads until the server closes c (EOF or a reset), failing
// if it is still open after ten seconds: what the server sent meanwhile
// is returned.
func expectClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open (read %q)", got)
	}
	return string(got)
}

// serverTLS makes a TLS configuration with a certificate of a new CA, and
// the roots a client verifies it with.
func serverTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ca := admintest.NewCA(t, t.TempDir(), "ca")
	certFile, keyFile := ca.Server(t, "server")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, roots
}

func TestHandshakeTimeoutClosesClientsThatNeverHandshake(t *testing.T) {
	t.Parallel()
	cfg, roots := serverTLS(t)
	logs := &syncBuffer{}
	_, addr, _ := start(t, server.Config{TLS: cfg, HandshakeTimeout: 200 * time.Millisecond, Logger: debugLogger(logs)})

	// A client that connects and waits for the server to speak first.
	silent, _ := dial(t, addr)
	if got := expectClosed(t, silent); got != "" {
		t.Fatalf("the server sent %q to a client that never handshook", got)
	}
	waitLog(t, logs, "TLS handshake failed; connection closed")

	// A plain-text client that sends a command and waits for its reply.
	plain, _ := dial(t, addr)
	if _, err := plain.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := expectClosed(t, plain); strings.Contains(got, "OK") {
		t.Fatalf("a plain-text client on the TLS port got %q", got)
	}

	// A client that handshakes is served as before.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("use mail\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := line(t, bufio.NewReader(c)); got != "USING mail\r\n" {
		t.Fatalf("use over TLS: %q", got)
	}
}

func TestMaxConnectionsRefusesWithOutOfMemory(t *testing.T) {
	t.Parallel()
	_, addr, _ := start(t, server.Config{MaxConnections: 2})
	first, r1 := dial(t, addr)
	second, r2 := dial(t, addr)
	for _, c := range []struct {
		c net.Conn
		r *bufio.Reader
	}{{first, r1}, {second, r2}} {
		// A round trip each: both are served, so both count.
		if _, err := c.c.Write([]byte("use mail\r\n")); err != nil {
			t.Fatal(err)
		}
		if got := line(t, c.r); got != "USING mail\r\n" {
			t.Fatalf("use: %q", got)
		}
	}

	third, _ := dial(t, addr)
	if _, err := third.Write([]byte("put 0 0 60 2\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := expectClosed(t, third); got != "OUT_OF_MEMORY\r\n" {
		t.Fatalf("the connection beyond the limit got %q, want OUT_OF_MEMORY and a close", got)
	}
	if got := statsValue(t, first, r1, "total-connections-refused"); got != "1" {
		t.Fatalf("total-connections-refused %s, want 1", got)
	}
	if got := statsValue(t, first, r1, "current-jobs-ready"); got != "0" {
		t.Fatalf("the refused put was stored: current-jobs-ready %s", got)
	}

	// Once one leaves, a new connection is served.
	second.Close()
	deadline := time.Now().Add(10 * time.Second)
	for statsValue(t, first, r1, "current-connections") != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection still counts after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fourth, r4 := dial(t, addr)
	if _, err := fourth.Write([]byte("use mail\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := line(t, r4); got != "USING mail\r\n" {
		t.Fatalf("after one left, a new connection got %q", got)
	}
}

// TestMaxConnectionsOverTLS: on a TLS port the refusal comes after the
// handshake, so that the client can read it.
func TestMaxConnectionsOverTLS(t *testing.T) {
	t.Parallel()
	cfg, roots := serverTLS(t)
	_, addr, _ := start(t, server.Config{TLS: cfg, MaxConnections: 1})
	dialTLS := func() (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	first, r := dialTLS()
	if _, err := first.Write([]byte("use mail\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := line(t, r); got != "USING mail\r\n" {
		t.Fatalf("use: %q", got)
	}
	second, _ := dialTLS()
	if got := expectClosed(t, second); got != "OUT_OF_MEMORY\r\n" {
		t.Fatalf("the TLS connection beyond the limit got %q, want OUT_OF_MEMORY and a close", got)
	}
}

// TestIdleTimeout runs on both cores: the event loop (Linux's default),
// which looks for idle connections four times per timeout, and a
// goroutine per connection, whose reads have a deadline.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprintf("goroutines=%v", goroutines), func(t *testing.T) {
			t.Parallel()
			testIdleTimeout(t, goroutines)
		})
	}
}

func testIdleTimeout(t *testing.T, goroutines bool) {
	logs := &syncBuffer{}
	const idle = 300 * time.Millisecond
	srv, addr, _ := start(t, server.Config{IdleTimeout: idle, Logger: debugLogger(logs), Goroutines: goroutines})

	// A connection that sends nothing is closed.
	quiet, _ := dial(t, addr)
	if !goroutines {
		poll.Until(t, "the event loop serves the connection", func() bool { return srv.Looped() == 1 })
	}
	if got := expectClosed(t, quiet); got != "" {
		t.Fatalf("an idle connection got %q", got)
	}
	waitLog(t, logs, "connection closed: idle for the idle timeout")

	// One that stops in the middle of a command too.
	stalled, _ := dial(t, addr)
	if _, err := stalled.Write([]byte("put 0 0 60 10\r\nabc")); err != nil {
		t.Fatal(err)
	}
	if got := expectClosed(t, stalled); got != "" {
		t.Fatalf("a connection stalled in a put got %q", got)
	}

	// A connection blocked in reserve is not idle: it gets its job after
	// several idle timeouts.
	worker, rw := dial(t, addr)
	if _, err := worker.Write([]byte("reserve\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * idle)
	producer, rp := dial(t, addr)
	if _, err := producer.Write([]byte("put 0 0 60 2\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := line(t, rp); !strings.HasPrefix(got, "INSERTED ") {
		t.Fatalf("put: %q", got)
	}
	if got := line(t, rw); !strings.HasPrefix(got, "RESERVED ") {
		t.Fatalf("the blocked reserve got %q, want RESERVED", got)
	}

	// A worker blocked for longer than the idle timeout that hangs up is
	// still noticed: its reserve ends. (It watches a tube of its own: the
	// idle worker above is closed meanwhile and its job released.)
	gone, _ := dial(t, addr)
	if _, err := gone.Write([]byte("watch empty\r\nignore default\r\nreserve\r\n")); err != nil {
		t.Fatal(err)
	}
	waitWaiting(t, producer, rp, "1")
	time.Sleep(3 * idle)
	gone.Close()
	observer, ro := dial(t, addr) // the producer has been idle too long
	waitWaiting(t, observer, ro, "0")
}

// waitWaiting polls stats on c until current-waiting is want, failing
// after ten seconds.
func waitWaiting(t *testing.T, c net.Conn, r *bufio.Reader, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for statsValue(t, c, r, "current-waiting") != want {
		if time.Now().After(deadline) {
			t.Fatalf("current-waiting never became %s", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPlainJobPortBeyondLoopbackWarns(t *testing.T) {
	t.Parallel()
	cfg, _ := serverTLS(t)
	for _, tc := range []struct {
		name, addr string
		tls        *tls.Config
		warn       bool
	}{
		{"every interface, plain", "0.0.0.0:0", nil, true},
		{"every interface, TLS", "0.0.0.0:0", cfg, false},
		{"loopback, plain", "127.0.0.1:0", nil, false},
	} {
		logs := &syncBuffer{}
		b := broker.New(broker.Config{})
		t.Cleanup(b.Close)
		srv, err := server.New(server.Config{Broker: b, TLS: tc.tls, Logger: debugLogger(logs)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", tc.addr)
		if err != nil {
			t.Skipf("cannot listen on %s here: %v", tc.addr, err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		_ = srv.Close()
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Fatalf("%s: Serve: %v", tc.name, err)
		}
		got := logs.String()
		warned := strings.Contains(got, "level=WARN") && strings.Contains(got, "without TLS beyond loopback") &&
			strings.Contains(got, "--tls-cert")
		if warned != tc.warn {
			t.Fatalf("%s: warned %v, want %v; log:\n%s", tc.name, warned, tc.warn, got)
		}
	}
}

// statsValue runs stats on c and returns key's value.
func statsValue(t *testing.T, c net.Conn, r *bufio.Reader, key string) string {
	t.Helper()
	if _, err := c.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	head := line(t, r)
	var n int
	if _, err := fmt.Sscanf(head, "OK %d\r\n", &n); err != nil {
		t.Fatalf("stats: %q", head)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("stats has no %s:\n%s", key, body)
	return ""
}

// TestIsLoopback is the rule behind the exposure warnings and
// --admin-insecure.
func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.5:8080": false,
		"example.com:8080": false, "127.0.0.1": false,
	} {
		if got := server.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
