package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/promtext"
)

// TestRunAdmin runs `reprieve run` with its admin interface.
func TestRunAdmin(t *testing.T) {
	bin := buildReprieve(t)
	t.Run("FlagErrors", func(t *testing.T) { t.Parallel(); testRunAdminFlagErrors(t, bin) })
	t.Run("Metrics", func(t *testing.T) { t.Parallel(); testRunAdminMetrics(t, bin) })
	t.Run("TLS", func(t *testing.T) { t.Parallel(); testRunAdminTLS(t, bin) })
}

// testRunAdminFlagErrors checks that run applies serve's --admin-* rules,
// exiting with status 2 before the pipeline starts.
func testRunAdminFlagErrors(t *testing.T, bin string) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(file, []byte("modules:\n  gen: {module: input.generator}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-token", "x"}, "--admin-token needs --admin-listen: the admin interface is off without it"},
		{[]string{"--admin-listen", "8080"}, `--admin-listen "8080": want HOST:PORT, such as 127.0.0.1:8080`},
		{[]string{"--admin-listen", "0.0.0.0:0"}, `--admin-listen "0.0.0.0:0" is not a loopback address, and without a token anyone who reaches it can read the pipeline's counters: set --admin-token or --admin-token-file, listen on 127.0.0.1, or add --admin-insecure to serve it without a token anyway`},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-tls-key", "k.pem"}, "--admin-tls-cert and --admin-tls-key go together"},
	} {
		out, err := exec.Command(bin, append(append([]string{"run"}, tt.args...), file)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("run %v: %v, output %q; want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
}

// testRunAdminMetrics runs a pipeline whose destination is down, so that
// every message fails over to a file, reads its counters from /metrics
// with the token, and stops it with SIGTERM, which stops the interface.
func testRunAdminMetrics(t *testing.T, bin string) {
	dir := t.TempDir()
	file, out := failoverFile(t, dir)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	p := startRun(t, bin, "--admin-listen", addr, "--admin-token-file", tokenFile, file)
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	get := func(path, token string) (int, string, error) { return httpGet(hc, "http://"+addr+path, token) }
	want := map[string]float64{
		`reprieve_pipeline_handled_total{kind="input.file",module="in"}`:                                 0,
		`reprieve_pipeline_failed_total{kind="output.tcp",module="dest"}`:                                3,
		`reprieve_pipeline_handled_total{kind="output.tcp",module="dest"}`:                               0,
		`reprieve_pipeline_handled_total{kind="output.file",module="fallback"}`:                          3,
		`reprieve_pipeline_queue_in_total{direction="output",module="in",queue="outbox"}`:                3,
		`reprieve_pipeline_queue_out_total{direction="input",module="dest",queue="inbox"}`:               3,
		`reprieve_pipeline_queue_in_total{direction="output",module="dest",queue="failed"}`:              3,
		`reprieve_pipeline_queue_out_total{direction="output",module="dest",queue="failed"}`:             3,
		`reprieve_pipeline_queue_in_total{direction="input",module="fallback",queue="inbox"}`:            3,
		`reprieve_pipeline_queue_dropped_total{direction="output",module="fallback",queue="successful"}`: 3,
		`reprieve_pipeline_queue_size{module="fallback",queue="inbox"}`:                                  0,
		`reprieve_pipeline_restarts_total{kind="input.file",module="in"}`:                                0,
	}
	var x promtext.Exposition
	for deadline := time.Now().Add(15 * time.Second); ; {
		status, body, err := get("/metrics", "t0ken")
		if err == nil && status == 200 {
			if x, err = promtext.Parse(body); err != nil {
				t.Fatalf("/metrics: %v\n%s", err, body)
			}
			if matches(x.Series, want) {
				break
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("reprieve run exited: %v\n%s", err, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed the counters: %d %v %v\nwant %v\n%s", status, err, x.Series, want, p.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(out); string(b) != "a\nb\nc\n" {
		t.Errorf("fallback file %q", b)
	}
	if status, _, err := get("/metrics", ""); err != nil || status != 401 {
		t.Errorf("/metrics without the token: %d %v", status, err)
	}
	if status, body, err := get("/api/v1/pipeline", "t0ken"); err != nil || status != 200 ||
		!strings.HasPrefix(body, "{\n  \"file\": \""+file+"\",\n  \"state\": \"running\",\n  \"modules\": [\n    {\n      \"module\": \"in\",") {
		t.Errorf("/api/v1/pipeline: %d %v\n%s", status, err, body)
	}
	if status, body, err := get("/readyz", ""); err != nil || status != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q %v", status, body, err)
	}

	p.term(t)
	if _, _, err := get("/healthz", ""); err == nil {
		t.Errorf("the admin interface still answers after the process exited")
	}
	if !strings.Contains(p.logs(), `msg="admin interface" url=http://`+addr+" token=true metrics_public=false") {
		t.Errorf("no admin interface log line:\n%s", p.logs())
	}
}

// testRunAdminTLS serves the pipeline's interface over HTTPS with a
// self-signed certificate: a client trusting it reads /metrics, one that
// does not is refused.
func testRunAdminTLS(t *testing.T, bin string) {
	dir := t.TempDir()
	file, _ := failoverFile(t, dir)
	certFile, keyFile := admintest.SelfSigned(t, dir)
	addr := freePort(t)
	p := startRun(t, bin, "--admin-listen", addr, "--admin-tls-cert", certFile, "--admin-tls-key", keyFile, file)
	pemCert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for deadline := time.Now().Add(15 * time.Second); ; {
		status, body, err := httpGet(hc, "https://"+addr+"/metrics", "")
		if err == nil {
			if status != 200 {
				t.Fatalf("/metrics over HTTPS: %d\n%s", status, body)
			}
			x, err := promtext.Parse(body)
			if err != nil || x.Types["reprieve_pipeline_queue_in_total"] != "counter" {
				t.Fatalf("/metrics over HTTPS: %v %v\n%s", err, x.Types, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS reply: %v\n%s", err, p.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	untrusting := &http.Client{Timeout: 5 * time.Second}
	if _, _, err := httpGet(untrusting, "https://"+addr+"/healthz", ""); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
	if status, _, err := httpGet(untrusting, "http://"+addr+"/healthz", ""); err == nil && status == 200 {
		t.Error("plain HTTP on the TLS port answered 200")
	}
	if !strings.Contains(p.logs(), `msg="admin interface" url=https://`+addr+" token=false") {
		t.Errorf("no https admin log line:\n%s", p.logs())
	}
	p.term(t)
}

// matches reports whether series holds every value of want.
func matches(series, want map[string]float64) bool {
	for k, v := range want {
		if got, ok := series[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// runProc is a `reprieve run` child process.
type runProc struct {
	cmd    *exec.Cmd
	logf   string
	exited chan error
}

// startRun starts `reprieve run args…`; t.Cleanup kills it.
func startRun(t *testing.T, bin string, args ...string) *runProc {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "run.log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &runProc{cmd: cmd, logf: logf, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		err := <-p.exited
		p.exited <- err
	})
	return p
}

// logs returns the process's output so far.
func (p *runProc) logs() string { b, _ := os.ReadFile(p.logf); return string(b) }

// term sends SIGTERM and waits for a clean exit.
func (p *runProc) term(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("reprieve run did not stop on SIGTERM\n%s", p.logs())
	}
}

// failoverFile writes a pipeline into dir that reads three lines from a
// file and sends them to a TCP port nobody listens on, so that each fails
// over to a file; it returns the pipeline's path and the fallback file's.
func failoverFile(t *testing.T, dir string) (file, out string) {
	t.Helper()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.log")
	if err := os.WriteFile(in, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, downPort, _ := strings.Cut(freePort(t), ":")
	file = filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`
modules:
  in: {module: input.file, arguments: {path: %s, poll_interval: 0.01}}
  dest: {module: output.tcp, arguments: {port: %s}}
  fallback: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> dest.inbox
  - dest.failed -> fallback.inbox
`, in, downPort, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, out
}

// httpGet sends GET url with a bearer token ("" sends none).
func httpGet(hc *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
