package module

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
)

// output.tube and input.tube reach a server whose port speaks TLS when
// given tls_ca; every job put is reserved, delivered and deleted.
func TestTubeOverTLS(t *testing.T) {
	ca := admintest.NewCA(t, t.TempDir(), "tube")
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
	ctx := context.Background()
	c, err := client.DialTLS(ctx, srv.Addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stat := func(key string) int64 {
		s, err := c.StatsTube(ctx, "secure")
		if err != nil {
			return -1
		}
		n, _ := s.Int(key)
		return n
	}

	_, stop := run(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 5, id_prefix: job}}
  put: {module: output.tube, arguments: {address: "%s", tube: secure, tls_ca: "%s", timeout: 1m}}
routingtable:
  - gen.outbox -> put.inbox
`, srv.Addr, ca.CertFile), clock.Real(), nil)
	poll.Until(t, "5 jobs put over TLS", func() bool { return stat("current-jobs-ready") == 5 })
	stop()

	out := filepath.Join(t.TempDir(), "out")
	_, stop = run(t, fmt.Sprintf(`
modules:
  in: {module: input.tube, arguments: {address: "%s", tubes: [secure], tls_ca: "%s"}}
  done: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> done.inbox
`, srv.Addr, ca.CertFile, out), clock.Real(), nil)
	poll.Until(t, "5 jobs deleted over TLS", func() bool { return stat("cmd-delete") == 5 && stat("current-jobs-ready") == 0 })
	stop()
	if lines := readLines(t, out); len(lines) != 5 {
		t.Fatalf("%d messages delivered, want 5: %q", len(lines), lines)
	}
}

// The tls arguments are checked when the file is loaded: a client
// certificate without its key, an unreadable CA file, a CA file without a
// certificate.
func TestTubeTLSArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct{ args, want string }{
		{`tls_cert: c.pem`, `argument "tls_cert": tls_cert and tls_key go together: give both to present a client certificate, or neither`},
		{`tls_key: k.pem`, `argument "tls_key": tls_cert and tls_key go together: give both to present a client certificate, or neither`},
		{`tls_ca: "` + missing + `"`, `argument "tls_ca": ` + missing + `: open ` + missing + `: no such file or directory`},
		{`tls_ca: "` + notPEM + `"`, `argument "tls_ca": ` + notPEM + `: no PEM certificate in it`},
	} {
		src := `
modules:
  gen: {module: input.generator, arguments: {count: 1}}
  put: {module: output.tube, arguments: {` + tc.args + `}}
routingtable:
  - gen.outbox -> put.inbox
`
		_, _, err := pipeline.Parse("tls.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "tls.yaml:") {
			t.Errorf("%s: error %v; want tls.yaml:LINE and %q", tc.args, err, tc.want)
		}
	}
}
