package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

// startTLSServer serves an in-process Reprieve server over TLS with cfg on
// 127.0.0.1:0 and returns its address; t.Cleanup stops it.
func startTLSServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	b := broker.New(broker.Config{})
	srv, err := server.New(server.Config{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		b.Close()
	})
	return ln.Addr().String()
}

// tlsFixture is a CA, a server certificate it signed and a client
// configuration that trusts the CA.
type tlsFixture struct {
	ca     *admintest.CA
	server tls.Certificate
	roots  *x509.CertPool
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "test")
	certFile, keyFile := ca.Server(t, "server")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pem)
	return &tlsFixture{ca: ca, server: cert, roots: roots}
}

func (f *tlsFixture) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.server}}
}

// TestDialTLS puts, reserves and deletes a job over TLS on one Conn.
func TestDialTLS(t *testing.T) {
	f := newTLSFixture(t)
	addr := startTLSServer(t, f.serverConfig())
	ctx := context.Background()
	c, err := client.DialTLS(ctx, addr, &tls.Config{RootCAs: f.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Put(ctx, []byte("over tls"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.ReserveWithTimeout(ctx, 0)
	if err != nil || j.ID != id || string(j.Body) != "over tls" {
		t.Fatalf("reserve: %+v, %v; want job %d \"over tls\"", j, err, id)
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second delete: %v; want ErrNotFound", err)
	}
}

// TestDialTLSVerifies refuses a server whose certificate is not signed by
// a trusted root, or not for the name asked for, at dial time.
func TestDialTLSVerifies(t *testing.T) {
	f := newTLSFixture(t)
	addr := startTLSServer(t, f.serverConfig())
	ctx := context.Background()

	_, err := client.DialTLS(ctx, addr, nil) // the system's roots
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("dial with the system's roots: %v; want x509.UnknownAuthorityError", err)
	}
	_, err = client.DialTLS(ctx, addr, &tls.Config{RootCAs: f.roots, ServerName: "elsewhere.example"})
	var host x509.HostnameError
	if !errors.As(err, &host) || host.Host != "elsewhere.example" {
		t.Fatalf("dial for another name: %v; want x509.HostnameError for elsewhere.example", err)
	}
	c, err := client.DialTLS(ctx, addr, &tls.Config{RootCAs: f.roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("dial for localhost (a name of the certificate): %v", err)
	}
	c.Close()
}

// TestPoolTLS puts and reserves through a Pool that dials over TLS.
func TestPoolTLS(t *testing.T) {
	f := newTLSFixture(t)
	addrs := []string{startTLSServer(t, f.serverConfig()), startTLSServer(t, f.serverConfig())}
	ctx := context.Background()
	p, err := client.NewPool(ctx, client.PoolConfig{Addrs: addrs, Dial: client.TLSDialer(&tls.Config{RootCAs: f.roots})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		ref, err := p.Put(ctx, "tls", []byte("job"), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		seen[ref.Addr] = true
	}
	if len(seen) != 2 {
		t.Fatalf("puts went to %v; want both servers", seen)
	}
	for i := 0; i < 2; i++ {
		h, err := p.Reserve(ctx, time.Second, "tls")
		if err != nil {
			t.Fatal(err)
		}
		if string(h.Body) != "job" {
			t.Fatalf("reserved %q", h.Body)
		}
		if err := h.Delete(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDialTLSClientCertificate: a server that requires client
// certificates refuses a client without one (at the handshake, or with
// TLS 1.3 at the first command) and serves one with a certificate its CA
// signed.
func TestDialTLSClientCertificate(t *testing.T) {
	f := newTLSFixture(t)
	cfg := f.serverConfig()
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.ClientCAs = f.roots
	addr := startTLSServer(t, cfg)
	ctx := context.Background()

	c, err := client.DialTLS(ctx, addr, &tls.Config{RootCAs: f.roots})
	if err == nil {
		_, err = c.Stats(ctx)
		c.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "tls: certificate required") {
		t.Fatalf("without a client certificate: %v; want the alert certificate required", err)
	}

	certFile, keyFile := f.ca.Client(t, "worker")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err = client.DialTLS(ctx, addr, &tls.Config{RootCAs: f.roots, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, []byte("x"), 0, 0, time.Minute); err != nil {
		t.Fatalf("put with a client certificate: %v", err)
	}
}
