package admin_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/admin/admintest"
)

// TestReloadCertificate checks that a renewed certificate reaches new
// handshakes after ReloadCertificate, and that a pair that cannot be used
// is refused with the one in use kept.
func TestReloadCertificate(t *testing.T) {
	ca := admintest.NewCA(t, t.TempDir(), "admin")
	certFile, keyFile := ca.Server(t, "admin")
	srv, err := admin.Listen(admin.ListenConfig{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	serial := func() string {
		t.Helper()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
		resp, err := hc.Get(srv.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != "2" {
		t.Fatalf("first certificate has serial %s, want 2", got)
	}
	ca.Server(t, "admin") // renewed in place: serial 3
	if err := srv.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != "3" {
		t.Fatalf("after the reload: serial %s, want 3", got)
	}
	if err := os.WriteFile(keyFile, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = srv.ReloadCertificate()
	if err == nil || !strings.Contains(err.Error(), "certs: unusable certificate or key: "+certFile+" with key "+keyFile+": tls: failed to find any PEM data in key input") {
		t.Fatalf("reload of a broken key: %v", err)
	}
	if got := serial(); got != "3" {
		t.Fatalf("after a failed reload: serial %s, want 3 (kept)", got)
	}
}
