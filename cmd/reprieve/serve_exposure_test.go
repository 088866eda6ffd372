package main

import (
	"bufio"
	"crypto/tls"
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

	"github.com/reprieve/reprieve/internal/admin/admintest"
)

// TestServeExposure runs `reprieve serve` as a process (built once) for
// what keeps its ports from being exposed silently: the certificate
// checks at start and on SIGHUP, the warnings about plain ports beyond
// loopback, and the connection limit.
func TestServeExposure(t *testing.T) {
	bin := buildReprieve(t)
	t.Run("CertChecksAtStart", func(t *testing.T) { t.Parallel(); testServeCertChecksAtStart(t, bin) })
	t.Run("ReloadRefused", func(t *testing.T) { t.Parallel(); testServeReloadRefused(t, bin) })
	t.Run("Warnings", func(t *testing.T) { t.Parallel(); testServeExposureWarnings(t, bin) })
	t.Run("MaxConnections", func(t *testing.T) { t.Parallel(); testServeMaxConnections(t, bin) })
}

// serveFails runs serve with args until it exits and returns its exit
// status and standard error.
func serveFails(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--no-log", "--listen", "127.0.0.1:0"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("serve %v: %v, want it to exit with an error\n%s", args, err, stderr.String())
	}
	return ee.ExitCode(), stderr.String()
}

// testServeCertChecksAtStart: an expired, not yet valid or unverified
// certificate stops the start, naming the file and the reason; the flags
// that need a certificate are usage errors without one.
func testServeCertChecksAtStart(t *testing.T, bin string) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "start")
	other := admintest.NewCA(t, t.TempDir(), "other")
	now := time.Now()
	expired, expiredKey := ca.ServerValid(t, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future, futureKey := ca.ServerValid(t, "future", now.Add(24*time.Hour), now.Add(48*time.Hour))
	good, goodKey := ca.Server(t, "good")
	for _, tt := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--tls-cert", expired, "--tls-key", expiredKey}, 1,
			[]string{"reprieve serve: tls: --tls-cert, --tls-key: " + expired + `: certs: certificate expired: "CN=expired" expired at `, "renew it\n"}},
		{[]string{"--tls-cert", future, "--tls-key", futureKey}, 1,
			[]string{"reprieve serve: tls: --tls-cert, --tls-key: " + future + `: certs: certificate not yet valid: "CN=future" is valid from `}},
		{[]string{"--tls-cert", good, "--tls-key", goodKey, "--tls-ca", other.CertFile}, 1,
			[]string{"reprieve serve: tls: --tls-cert, --tls-key: " + good + ": certs: certificate does not verify against the CA " + other.CertFile + ": x509: certificate signed by unknown authority"}},
		{[]string{"--tls-ca", ca.CertFile}, 2, []string{"reprieve serve: tls: --tls-ca needs --tls-cert and --tls-key: it checks their certificate\n"}},
		{[]string{"--tls-handshake-timeout", "0s"}, 2, []string{"reprieve serve: tls: --tls-handshake-timeout 0s: want a positive duration such as 10s\n"}},
		{[]string{"--max-connections", "-1"}, 2, []string{"reprieve serve: limits: --max-connections -1: want 0 (no limit) or more\n"}},
		{[]string{"--idle-timeout", "-1s"}, 2, []string{"reprieve serve: limits: --idle-timeout -1s: want 0 (off) or a positive duration such as 10m\n"}},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-tls-ca", ca.CertFile}, 2,
			[]string{"reprieve serve: admin: --admin-tls-ca needs --admin-tls-cert and --admin-tls-key: it checks their certificate\n"}},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-tls-cert", expired, "--admin-tls-key", expiredKey}, 1,
			[]string{"reprieve serve: admin: admin: TLS: " + expired + `: certs: certificate expired: "CN=expired" expired at `}},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-tls-cert", good, "--admin-tls-key", goodKey, "--admin-tls-ca", other.CertFile}, 1,
			[]string{"certs: certificate does not verify against the CA " + other.CertFile}},
	} {
		code, stderr := serveFails(t, bin, tt.args...)
		ok := code == tt.code
		for _, w := range tt.want {
			ok = ok && strings.Contains(stderr, w)
		}
		if !ok {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

// testServeReloadRefused: on SIGHUP, an expired, a not yet valid and an
// unverified certificate are refused on the job port and the admin
// interface alike, each with its reason logged, and the pair in use kept.
func testServeReloadRefused(t *testing.T, bin string) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "reload")
	other := admintest.NewCA(t, t.TempDir(), "other")
	adminAddr := freePort(t)
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	s := startTLSServe(t, bin, ca, "--tls-ca", ca.CertFile, "--admin-listen", adminAddr,
		"--admin-tls-cert", certFile, "--admin-tls-key", keyFile, "--admin-tls-ca", ca.CertFile)
	serials := func() (string, string) {
		t.Helper()
		c, _ := s.dial(t)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		job := c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		resp, err := hc.Get("https://" + adminAddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return job, resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if job, adm := serials(); job != "2" || adm != "2" {
		t.Fatalf("first serials: job port %s, admin %s; want 2", job, adm)
	}
	now := time.Now()
	for i, bad := range []struct {
		name   string
		issue  func() (string, string)
		reason string
	}{
		{"expired", func() (string, string) { return ca.ServerValid(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour)) }, `certs: certificate expired: \"CN=old\" expired at`},
		{"not yet valid", func() (string, string) { return ca.ServerValid(t, "new", now.Add(time.Hour), now.Add(2*time.Hour)) }, `certs: certificate not yet valid: \"CN=new\" is valid from`},
		{"another CA", func() (string, string) { return other.Server(t, "stranger") }, "certs: certificate does not verify against the CA " + ca.CertFile},
	} {
		newCert, newKey := bad.issue()
		copyFile(t, newCert, certFile)
		copyFile(t, newKey, keyFile)
		s.cmd.Process.Signal(syscall.SIGHUP)
		for _, port := range []string{"job port", "admin interface"} {
			s.waitLogCount(t, `level=ERROR msg="`+port+`: TLS certificate not reloaded; keeping the one in use" cert=`+certFile+` err="`+certFile+": "+bad.reason, 1)
		}
		if job, adm := serials(); job != "2" || adm != "2" {
			t.Fatalf("after the %s certificate (reload %d): serials job port %s, admin %s; want 2 kept", bad.name, i+1, job, adm)
		}
	}
}

// copyFile replaces to with the content of from.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitLogCount waits until the server's output holds text n times.
func (p *reprieveProc) waitLogCount(t *testing.T, text string, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if strings.Count(p.output(), text) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server output lacks %q (%d times):\n%s", text, n, p.output())
}

// testServeExposureWarnings: a plain job port and a plain admin interface
// on every interface are each warned about at start, saying what is
// exposed and how to protect it; on loopback, neither is.
func testServeExposureWarnings(t *testing.T, bin string) {
	_, port, _ := net.SplitHostPort(freePort(t))
	_, adminPort, _ := net.SplitHostPort(freePort(t))
	p := startReprieve(t, bin, "0.0.0.0:"+port, "--no-log", "--admin-listen", "0.0.0.0:"+adminPort, "--admin-insecure")
	p.waitLog(t, `level=WARN msg="the job port is served without TLS beyond loopback: anyone who can reach it can put, reserve, delete and kick jobs and read their bodies, in clear text; serve it over TLS (--tls-cert, --tls-key, and --tls-client-ca to require client certificates), or listen on 127.0.0.1 behind a firewall or tunnel" addr=`)
	// Go listens on 0.0.0.0 as [::] where it can.
	if !strings.Contains(p.output(), ":"+port+"\n") || !strings.Contains(p.output(), ":"+adminPort+"\n") {
		t.Fatalf("the warnings do not name the addresses:\n%s", p.output())
	}
	p.waitLog(t, `level=WARN msg="the admin interface is served over plain HTTP beyond loopback: its token, job bodies and actions cross the network in clear text; serve it over HTTPS (--admin-tls-cert, --admin-tls-key), behind a TLS-terminating proxy on 127.0.0.1, or on 127.0.0.1 only" addr=`)

	local := startReprieve(t, bin, freePort(t), "--no-log", "--admin-listen", freePort(t))
	local.waitLog(t, `msg="admin interface"`)
	if strings.Contains(local.output(), "level=WARN") {
		t.Fatalf("a loopback server warned:\n%s", local.output())
	}
}

// testServeMaxConnections: with --max-connections 1, a second connection
// is answered OUT_OF_MEMORY and closed, and counted in stats.
func testServeMaxConnections(t *testing.T, bin string) {
	p := startReprieve(t, bin, freePort(t), "--no-log", "--max-connections", "1", "--idle-timeout", "1h")
	// startReprieve's probe connection may still count: wait until it
	// has gone, by the refusals of the next attempts.
	var first net.Conn
	var r *bufio.Reader
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "use mail\r\n")
		if line, _ := br.ReadString('\n'); line == "USING mail\r\n" {
			first, r = c, br
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection served within 20 s\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer first.Close()
	second, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(second, "put 0 0 60 2\r\nhi\r\n")
	if got, _ := io.ReadAll(second); string(got) != "OUT_OF_MEMORY\r\n" {
		t.Fatalf("the second connection got %q, want OUT_OF_MEMORY and a close", got)
	}
	io.WriteString(first, "stats\r\n")
	head, _ := r.ReadString('\n')
	body := make([]byte, 0, 4096)
	for !strings.HasSuffix(string(body), "\r\n") || len(body) < 10 {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("stats: %q %q %v", head, body, err)
		}
		body = append(body, b)
	}
	if !strings.Contains(string(body), "\ntotal-connections-refused: ") || strings.Contains(string(body), "\ntotal-connections-refused: 0\n") {
		t.Fatalf("stats does not count the refusal: %s", body)
	}
}
