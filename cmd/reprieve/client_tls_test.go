package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/servertest"
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

// TestPlainClientAgainstTLSPortGetsAHint: a command without --tls against
// a port that serves TLS says so and names the flag, for one server and
// for one of several.
func TestPlainClientAgainstTLSPortGetsAHint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "hint")
	certFile, keyFile := ca.Server(t, "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	a := servertest.Start(t, &servertest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}).Addr
	tc := newTestCLI(t, a)
	hint := " (" + a + " serves TLS: add --tls, with --tls-ca FILE for a private CA)"
	for _, args := range [][]string{{"x"}, {"--addr", a + ",127.0.0.1:1", "x"}} {
		_, err := tc.run("", (*cli).put, args...)
		if err == nil || !strings.HasSuffix(err.Error(), hint) {
			t.Errorf("put %v without --tls against a TLS port: %v; want it to end with %q", args, err, hint)
		}
	}
	_, err = tc.run("", (*cli).stats)
	if want := "client: connection closed: read reply from " + a + ": unexpected EOF" + hint; err == nil || err.Error() != want {
		t.Errorf("stats without --tls against a TLS port: %v; want %q", err, want)
	}
	// A plain server that hangs up gets no hint.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, err = tc.run("", (*cli).stats, "--addr", ln.Addr().String())
	if !errors.Is(err, client.ErrClosed) || strings.Contains(err.Error(), "serves TLS") {
		t.Errorf("stats against a server that hangs up: %v; want ErrClosed and no TLS hint", err)
	}
}
