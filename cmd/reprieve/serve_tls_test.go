package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin/admintest"
)

// TestServeTLS runs `reprieve serve` over TLS as a process (built once).
func TestServeTLS(t *testing.T) {
	bin := buildReprieve(t)
	t.Run("FlagErrors", func(t *testing.T) { t.Parallel(); testServeTLSFlagErrors(t, bin) })
	t.Run("Jobs", func(t *testing.T) { t.Parallel(); testServeTLSJobs(t, bin) })
	t.Run("MutualTLS", func(t *testing.T) { t.Parallel(); testServeTLSMutual(t, bin) })
	t.Run("HangUp", func(t *testing.T) { t.Parallel(); testServeTLSHangUp(t, bin) })
	t.Run("Shutdown", func(t *testing.T) { t.Parallel(); testServeTLSShutdown(t, bin) })
	t.Run("Reload", func(t *testing.T) { t.Parallel(); testServeTLSReload(t, bin) })
}

// tlsServer is a `reprieve serve --tls-*` process and what its clients
// need: the CA that signed its certificate.
type tlsServer struct {
	*reprieveProc
	ca    *admintest.CA
	roots *x509.CertPool
}

// startTLSServe starts serve over TLS with a certificate signed by a new
// CA; args are added (--tls-client-ca).
func startTLSServe(t *testing.T, bin string, ca *admintest.CA, args ...string) *tlsServer {
	t.Helper()
	certFile, keyFile := ca.Server(t, "server")
	p := startReprieve(t, bin, freePort(t), append([]string{"--no-log", "--tls-cert", certFile, "--tls-key", keyFile}, args...)...)
	b, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b)
	return &tlsServer{reprieveProc: p, ca: ca, roots: roots}
}

// dial opens a raw TLS connection (with cfg's certificates) for the
// protocol's text.
func (s *tlsServer) dial(t *testing.T, certs ...tls.Certificate) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.roots, Certificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// waiting polls stats over TLS until current-waiting is want.
func (s *tlsServer) waiting(t *testing.T, want int64) {
	t.Helper()
	ctx := context.Background()
	c, err := client.DialTLS(ctx, s.addr, &tls.Config{RootCAs: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got int64
	for i := 0; i < 1000; i++ {
		st, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ = st.Int("current-waiting"); got == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("current-waiting stayed %d; want %d\n%s", got, want, s.output())
}

// sendLine writes s and checks that the next line read is want.
func sendLine(t *testing.T, w io.Writer, r *bufio.Reader, s, want string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != want {
		t.Fatalf("sent %q: got %q, %v; want %q", s, got, err, want)
	}
}

// testServeTLSFlagErrors: flags that go together exit with status 2, and
// files that cannot be used stop the start (status 1) naming the file and
// what is wrong with it.
func testServeTLSFlagErrors(t *testing.T, bin string) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "flags")
	certFile, keyFile := ca.Server(t, "server")
	_, otherKey := ca.Server(t, "other")
	notPEM := filepath.Join(dir, "notpem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.pem")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls-cert", certFile}, 2, "reprieve serve: tls: --tls-cert and --tls-key go together: give both to serve the job port over TLS, or neither for plain TCP\n"},
		{[]string{"--tls-key", keyFile}, 2, "reprieve serve: tls: --tls-cert and --tls-key go together: give both to serve the job port over TLS, or neither for plain TCP\n"},
		{[]string{"--tls-client-ca", ca.CertFile}, 2, "reprieve serve: tls: --tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS\n"},
		{[]string{"--tls-cert", none, "--tls-key", keyFile}, 1, "reprieve serve: tls: --tls-cert, --tls-key: certs: unusable certificate or key: open " + none + ": no such file or directory\n"},
		{[]string{"--tls-cert", certFile, "--tls-key", none}, 1, "reprieve serve: tls: --tls-cert, --tls-key: certs: unusable certificate or key: open " + none + ": no such file or directory\n"},
		{[]string{"--tls-cert", certFile, "--tls-key", otherKey}, 1, "reprieve serve: tls: --tls-cert, --tls-key: certs: unusable certificate or key: " + certFile + " with key " + otherKey + ": tls: private key does not match public key\n"},
		{[]string{"--tls-cert", notPEM, "--tls-key", keyFile}, 1, "reprieve serve: tls: --tls-cert, --tls-key: certs: unusable certificate or key: " + notPEM + " with key " + keyFile + ": tls: failed to find any PEM data in certificate input\n"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", notPEM}, 1, "reprieve serve: tls: --tls-client-ca " + notPEM + ": no PEM certificate in it (want one or more \"-----BEGIN CERTIFICATE-----\" blocks)\n"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", none}, 1, "reprieve serve: tls: --tls-client-ca " + none + ": open " + none + ": no such file or directory\n"},
	} {
		if code, stderr := serveFails(t, bin, tt.args...); code != tt.code || stderr != tt.want {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"-tls-cert file", "-tls-key file", "-tls-client-ca file", "-tls-ca file", "-tls-handshake-timeout duration", "mutual TLS",
		"-max-connections many", "-idle-timeout duration", "-admin-host name", "-admin-tls-ca file"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("--help lacks %s", flag)
		}
	}
}

// testServeTLSJobs: client, go-beanstalk over a tls.Conn and the
// client subcommands put, reserve and delete jobs over TLS; a plain-TCP
// client is refused without a job being put, and the server goes on.
func testServeTLSJobs(t *testing.T, bin string) {
	s := startTLSServe(t, bin, admintest.NewCA(t, t.TempDir(), "jobs"))
	ctx := context.Background()

	plain, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = plain.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(plain, "put 0 0 60 5\r\nplain\r\n")
	got, err := io.ReadAll(plain)
	plain.Close()
	if err != nil && !errors.Is(err, syscall.ECONNRESET) || len(got) != 0 {
		t.Fatalf("plain TCP on the TLS port read %q, %v; want the connection closed", got, err)
	}

	c, err := client.DialTLS(ctx, s.addr, &tls.Config{RootCAs: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Int("total-jobs"); n != 0 {
		t.Fatalf("total-jobs %d after a plain-TCP put; want 0", n)
	}
	id, err := c.Put(ctx, []byte("over tls"), 0, 0, time.Minute)
	if err != nil || id != 1 {
		t.Fatalf("put: %d, %v; want job 1", id, err)
	}
	j, err := c.ReserveWithTimeout(ctx, 0)
	if err != nil || j.ID != 1 || string(j.Body) != "over tls" {
		t.Fatalf("reserve: %+v, %v", j, err)
	}
	if err := c.Delete(ctx, 1); err != nil {
		t.Fatal(err)
	}

	tc, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
	bc := beanstalk.NewConn(tc)
	defer bc.Close()
	gid, err := (&beanstalk.Tube{Conn: bc, Name: "gb"}).Put([]byte("from go-beanstalk"), 1, 0, time.Minute)
	if err != nil || gid != 2 {
		t.Fatalf("go-beanstalk put: %d, %v; want job 2", gid, err)
	}
	rid, body, err := beanstalk.NewTubeSet(bc, "gb").Reserve(time.Second)
	if err != nil || rid != 2 || string(body) != "from go-beanstalk" {
		t.Fatalf("go-beanstalk reserve: %d %q %v", rid, body, err)
	}
	if err := bc.Delete(rid); err != nil {
		t.Fatal(err)
	}

	tcli := newTestCLI(t, s.addr)
	tcli.ok("inserted job 3 into tube cli on "+s.addr+"\n", (*cli).put, "--tls-ca", s.ca.CertFile, "--tube", "cli", "hello")
	tcli.ok("reserved job 3 on "+s.addr+" (5 bytes)\nhello\ndeleted job 3 on "+s.addr+"\n", (*cli).reserve, "--tls-ca", s.ca.CertFile, "--tube", "cli", "--timeout", "0", "--delete")
	tcli.ok("inserted job 4 into tube cli on "+s.addr+"\n", (*cli).put, "--tls-ca", s.ca.CertFile, "--tls-server-name", "localhost", "--tube", "cli", "x")
	tcli.fails("client: dial "+s.addr+" over TLS: tls: failed to verify certificate: x509: certificate is valid for localhost, not elsewhere.example",
		(*cli).stats, "--tls-ca", s.ca.CertFile, "--tls-server-name", "elsewhere.example")
	tcli.fails("client: dial "+s.addr+" over TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		(*cli).stats, "--tls")
	tcli.fails("client: connection closed: read reply from "+s.addr+": unexpected EOF ("+s.addr+" serves TLS: add --tls, with --tls-ca FILE for a private CA)", (*cli).stats)
}

// testServeTLSMutual: with --tls-client-ca a client without a certificate,
// or with one another CA signed, is refused at the handshake (and the
// reason logged at debug level); one the CA signed is served, raw and
// through the client subcommands.
func testServeTLSMutual(t *testing.T, bin string) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "mutual")
	s := startTLSServe(t, bin, ca, "--tls-client-ca", ca.CertFile, "--log-level", "debug")
	certFile, keyFile := ca.Client(t, "worker")
	stranger := admintest.NewCA(t, t.TempDir(), "stranger")
	strangerCert, strangerKey := stranger.Client(t, "intruder")

	for _, tt := range []struct {
		name, cert, key, want string
	}{
		{"no certificate", "", "", "remote error: tls: certificate required"},
		{"another CA's", strangerCert, strangerKey, "remote error: tls: unknown certificate authority"},
	} {
		cfg := &tls.Config{RootCAs: s.roots}
		if tt.cert != "" {
			cert, err := tls.LoadX509KeyPair(tt.cert, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			// Sent although the server asks for its own CA's.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
		c, err := tls.Dial("tcp", s.addr, cfg)
		if err == nil {
			// With TLS 1.3 the client's handshake ends before the
			// server checks its certificate: the refusal comes next.
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "stats\r\n")
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want %q", tt.name, err, tt.want)
		}
	}

	s.waitLog(t, "tls: client didn't provide a certificate")
	s.waitLog(t, "x509: certificate signed by unknown authority")

	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, r := s.dial(t, cert)
	sendLine(t, c, r, "put 0 0 60 2\r\nok\r\n", "INSERTED 1\r\n")

	tcli := newTestCLI(t, s.addr)
	tcli.ok("reserved job 1 on "+s.addr+" (2 bytes)\nok\ndeleted job 1 on "+s.addr+"\n",
		(*cli).reserve, "--tls-ca", ca.CertFile, "--tls-cert", certFile, "--tls-key", keyFile, "--timeout", "0", "--delete")
}

// testServeTLSHangUp: a client that hangs up during a blocking reserve
// over TLS, with close_notify or by closing the TCP connection under it,
// has its reserve cancelled (current-waiting goes back to 0) and gets no
// job put afterwards; the job goes to a TLS connection still waiting, which
// goes on serving after its wait ends.
func testServeTLSHangUp(t *testing.T, bin string) {
	s := startTLSServe(t, bin, admintest.NewCA(t, t.TempDir(), "hangup"))
	polite, _ := s.dial(t)
	io.WriteString(polite, "reserve\r\n")
	raw, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	rude := tls.Client(raw, &tls.Config{RootCAs: s.roots, ServerName: "127.0.0.1"})
	_ = rude.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(rude, "reserve-with-timeout 60\r\n")
	s.waiting(t, 2)

	polite.Close() // sends close_notify
	s.waiting(t, 1)
	raw.Close() // no close_notify
	s.waiting(t, 0)

	w, wr := s.dial(t)
	io.WriteString(w, "reserve\r\n")
	s.waiting(t, 1)
	c, r := s.dial(t)
	sendLine(t, c, r, "put 0 0 60 3\r\nnew\r\n", "INSERTED 1\r\n")
	if got, err := wr.ReadString('\n'); got != "RESERVED 1 3\r\n" {
		t.Fatalf("the waiting reserve got %q, %v; want job 1", got, err)
	}
	wr.ReadString('\n') // the body
	// The connection whose TLS read was interrupted goes on.
	sendLine(t, w, wr, "delete 1\r\n", "DELETED\r\n")
}

// testServeTLSShutdown: SIGTERM stops a TLS server gracefully (exit 0):
// a TLS connection blocked in reserve, an idle one and a TCP connection
// that never started its handshake are closed.
func testServeTLSShutdown(t *testing.T, bin string) {
	s := startTLSServe(t, bin, admintest.NewCA(t, t.TempDir(), "shutdown"))
	idle, ir := s.dial(t)
	sendLine(t, idle, ir, "put 0 0 60 2\r\nhi\r\n", "INSERTED 1\r\n")
	blocked, br := s.dial(t)
	sendLine(t, blocked, br, "reserve\r\n", "RESERVED 1 2\r\n")
	br.ReadString('\n') // the body
	io.WriteString(blocked, "reserve\r\n")
	s.waiting(t, 1)
	silent, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetDeadline(time.Now().Add(20 * time.Second))

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.output())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM\n%s", s.output())
	}
	for name, rd := range map[string]io.Reader{"idle": ir, "blocked": br, "silent": silent} {
		b, err := rd.Read(make([]byte, 1))
		// A connection still in the listen backlog when the process exits
		// is reset by the kernel rather than closed: closed either way.
		if !errors.Is(err, io.EOF) && !(name == "silent" && errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("%s connection not closed: %d bytes, %v", name, b, err)
		}
	}
	if out := s.output(); !strings.Contains(out, "msg=\"job port over TLS\"") || !strings.Contains(out, "msg=stopped") {
		t.Fatalf("log lacks TLS or the shutdown:\n%s", out)
	}
}

// testServeTLSReload: SIGHUP makes new handshakes on the job port and on
// the admin interface get the renewed certificate while open connections
// keep working; a pair that cannot be used is logged and the one in use
// kept.
func testServeTLSReload(t *testing.T, bin string) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "reload")
	adminAddr := freePort(t)
	s := startTLSServe(t, bin, ca, "--admin-listen", adminAddr,
		"--admin-tls-cert", filepath.Join(dir, "server.pem"), "--admin-tls-key", filepath.Join(dir, "server-key.pem"))
	adminSerial := func() string {
		t.Helper()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: s.roots}, DisableKeepAlives: true}}
		resp, err := hc.Get("https://" + adminAddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if got := adminSerial(); got != "2" {
		t.Fatalf("admin interface's first certificate has serial %s, want 2", got)
	}
	serial := func(c *tls.Conn) string {
		t.Helper()
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	old, oldR := s.dial(t)
	if got := serial(old); got != "2" {
		t.Fatalf("first certificate has serial %s, want 2 (the CA's first)", got)
	}

	certFile, keyFile := ca.Server(t, "server") // renewed in place: serial 3
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, `msg="job port: TLS certificate reloaded" cert=`+certFile+" subject=\"CN=server\" serial=3")
	s.waitLog(t, `msg="admin interface: TLS certificate reloaded" cert=`+certFile)
	renewed, renewedR := s.dial(t)
	if got := serial(renewed); got != "3" {
		t.Fatalf("after SIGHUP a new connection got serial %s, want 3", got)
	}
	if got := adminSerial(); got != "3" {
		t.Fatalf("after SIGHUP the admin interface has serial %s, want 3", got)
	}
	sendLine(t, old, oldR, "use a\r\n", "USING a\r\n")
	sendLine(t, renewed, renewedR, "use b\r\n", "USING b\r\n")

	if err := os.WriteFile(keyFile, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, `msg="job port: TLS certificate not reloaded; keeping the one in use" cert=`+certFile+` err="certs: unusable certificate or key: `+certFile+" with key "+keyFile+": tls: failed to find any PEM data in key input")
	s.waitLog(t, `msg="admin interface: TLS certificate not reloaded; keeping the one in use" cert=`+certFile+` err="certs: unusable certificate or key: `+certFile+" with key "+keyFile+": tls: failed to find any PEM data in key input")
	kept, keptR := s.dial(t)
	if got := serial(kept); got != "3" {
		t.Fatalf("after a failed reload a new connection got serial %s, want 3 (kept)", got)
	}
	if got := adminSerial(); got != "3" {
		t.Fatalf("after a failed reload the admin interface has serial %s, want 3 (kept)", got)
	}
	sendLine(t, kept, keptR, "use c\r\n", "USING c\r\n")
}
