package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/servertest"
)

// TestTLS drives a server whose port speaks TLS: every connection of the
// run (and of its preparation and clean-up) verifies the server and
// completes its handshake, and one whose roots do not include the
// server's CA fails with the handshake named.
func TestTLS(t *testing.T) {
	t.Parallel()
	ca := admintest.NewCA(t, t.TempDir(), "bench")
	certFile, keyFile := ca.Server(t, "server")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, &servertest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	cfg := testConfig(srv.Addr, ReserveDelete, 300)
	cfg.TLS = &tls.Config{RootCAs: roots}
	res := runOK(t, cfg)
	if res.Ops != 300 {
		t.Fatalf("ops %d over TLS, want 300", res.Ops)
	}
	st := srv.Broker.Stats()
	if st.TotalJobs != 300 || st.CurrentJobsReady != 0 {
		t.Fatalf("server saw %d jobs put, %d left ready; want 300 and 0", st.TotalJobs, st.CurrentJobsReady)
	}

	cfg.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
	_, err = Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "bench: TLS handshake with "+srv.Addr) {
		t.Fatalf("run with roots that lack the server's CA: %v; want a TLS handshake error", err)
	}
}
