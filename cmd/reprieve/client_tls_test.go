package main

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/admin/admintest"
)

// TestClientTLSFlagErrors: --tls-cert without --tls-key is a usage error;
// files that cannot be read are errors naming them; --help lists the
// --tls* flags.
func TestClientTLSFlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "flags")
	certFile, keyFile := ca.Client(t, "worker")
	none := filepath.Join(dir, "none.pem")
	tc := newTestCLI(t, "127.0.0.1:1")
	for _, args := range [][]string{{"--tls-cert", certFile}, {"--tls-key", keyFile}} {
		_, err := tc.run("", (*cli).stats, args...)
		want := "--tls-cert and --tls-key go together: give both to present a client certificate, or neither"
		if err == nil || err.Error() != want || !isUsage(err) {
			t.Errorf("stats %v = %v; want the usage error %q", args, err, want)
		}
	}
	tc.fails("--tls-ca "+none+": open "+none+": no such file or directory", (*cli).stats, "--tls-ca", none)
	tc.fails("--tls-ca "+keyFile+": no PEM certificate in it (want one or more \"-----BEGIN CERTIFICATE-----\" blocks)", (*cli).stats, "--tls-ca", keyFile)
	tc.fails("--tls-cert "+none+" with --tls-key "+keyFile+": open "+none+": no such file or directory", (*cli).put, "--tls-cert", none, "--tls-key", keyFile, "x")
	tc.fails("cannot connect to 127.0.0.1:1: connect: connection refused", (*cli).stats, "--tls")

	out, err := tc.run("", (*cli).reserve, "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("reserve --help: %v", err)
	}
	for _, f := range []string{"-tls\n", "-tls-ca file", "-tls-cert file", "-tls-key file", "-tls-server-name name"} {
		if !strings.Contains(out, f) {
			t.Errorf("reserve --help lacks %q:\n%s", f, out)
		}
	}
}
