package main

import (
	"context"
	"encoding/json"
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

	"github.com/reprieve/reprieve/client"
)

// TestServeAdmin runs `reprieve serve` with the admin interface.
func TestServeAdmin(t *testing.T) {
	bin := buildReprieve(t)
	t.Run("FlagErrors", func(t *testing.T) { t.Parallel(); testServeAdminFlagErrors(t, bin) })
	t.Run("API", func(t *testing.T) { t.Parallel(); testServeAdminAPI(t, bin) })
	t.Run("AddressInUse", func(t *testing.T) { t.Parallel(); testServeAdminAddressInUse(t, bin) })
}

// testServeAdminFlagErrors checks that bad --admin-* flags exit with
// status 2 before anything starts, saying what to fix.
func testServeAdminFlagErrors(t *testing.T, bin string) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-token", "x"}, "--admin-token needs --admin-listen: the admin interface is off without it"},
		{[]string{"--admin-metrics-public"}, "--admin-metrics-public needs --admin-listen"},
		{[]string{"--admin-listen", "8080"}, `--admin-listen "8080": want HOST:PORT, such as 127.0.0.1:8080`},
		{[]string{"--admin-listen", ":0"}, `--admin-listen ":0" is not a loopback address, and without a token anyone who reaches it can delete and kick jobs: set --admin-token or --admin-token-file, listen on 127.0.0.1, or add --admin-insecure to serve it without a token anyway`},
		{[]string{"--admin-listen", "0.0.0.0:0"}, `--admin-listen "0.0.0.0:0" is not a loopback address`},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-token", "a", "--admin-token-file", empty}, "--admin-token and --admin-token-file both given: use one"},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-token-file", empty}, "--admin-token-file " + empty + " is empty: write the token in it"},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-token-file", filepath.Join(dir, "none")}, "--admin-token-file: open " + filepath.Join(dir, "none") + ": no such file or directory"},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-tls-cert", "c.pem"}, "--admin-tls-cert and --admin-tls-key go together: give both for HTTPS, or neither for HTTP"},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-token", "a b"}, "the admin token must not contain spaces or line breaks"},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-host", "https://admin.example.com"}, `--admin-host "https://admin.example.com": want a host name or address such as admin.example.com, without a scheme or a path`},
		{[]string{"--admin-listen", "127.0.0.1:0", "--admin-host", ""}, `--admin-host "": want a host name or address such as admin.example.com, without a scheme or a path`},
		{[]string{"--admin-host", "a.example"}, "--admin-host needs --admin-listen"},
	} {
		out, err := exec.Command(bin, append([]string{"serve", "--no-log"}, tt.args...)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("serve %v: %v, output %q; want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"-admin-listen", "-admin-token", "-admin-token-file", "-admin-tls-cert", "-admin-tls-key", "-admin-insecure", "-admin-metrics-public"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("--help lacks %s", flag)
		}
	}
}

// testServeAdminAPI starts a durable server with the admin interface and a
// token file, buries a job over the protocol, kicks it through the API,
// reads stats and metrics, and stops the server with SIGTERM, which stops
// the admin interface too.
func testServeAdminAPI(t *testing.T, bin string) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := freePort(t)
	p := startReprieve(t, bin, freePort(t), "--data", filepath.Join(dir, "data"),
		"--admin-listen", adminAddr, "--admin-token-file", tokenFile, "--admin-metrics-public")
	p.waitLog(t, `msg="admin interface" url=http://`+adminAddr+" token=true metrics_public=true")

	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	// call sends method path; a POST takes its parameters as JSON, the
	// only kind of body actions accept.
	call := func(method, path, token string, params ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+adminAddr+path, strings.NewReader(strings.Join(params, "")))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	ctx := context.Background()
	c, err := client.Dial(ctx, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.PutIn(ctx, "mail", []byte("hello"), 0, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Watch(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReserveJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fail(ctx, id, "smtp: connection refused"); err != nil {
		t.Fatal(err)
	}

	if code, _ := call("GET", "/api/v1/stats", ""); code != 401 {
		t.Errorf("stats without the token: %d", code)
	}
	code, body := call("GET", "/api/v1/stats", "file-token")
	var stats map[string]any
	if err := json.Unmarshal([]byte(body), &stats); code != 200 || err != nil {
		t.Fatalf("stats: %d %v\n%s", code, err, body)
	}
	if stats["current-jobs-buried"] != 1.0 || stats["cmd-put"] != 1.0 || stats["cmd-fail"] != 1.0 ||
		stats["wal-fsync-policy"] != "interval" || stats["binlog-records-written"] == 0.0 {
		t.Errorf("stats: %s", body)
	}
	code, body = call("GET", "/api/v1/tubes/mail/jobs", "file-token")
	if code != 200 || !strings.Contains(body, `"last-error": "smtp: connection refused"`) {
		t.Errorf("buried jobs: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/tubes/mail/kick", "file-token", `{"error": "smtp"}`)
	if code != 200 || body != "{\n  \"tube\": \"mail\",\n  \"kicked\": 1\n}\n" {
		t.Errorf("kick: %d %s", code, body)
	}
	if j, err := c.ReserveWithTimeout(ctx, 0); err != nil || j.ID != id {
		t.Fatalf("reserve after the kick: %v %v", j, err)
	}
	p.waitLog(t, `msg="admin: tube kicked" tube=mail bound=2147483647 error=smtp kicked=1 remote=127.0.0.1:`)

	code, body = call("GET", "/metrics", "")
	for _, want := range []string{"\nreprieve_commands_total{cmd=\"fail\"} 1\n", "\nreprieve_tube_jobs{tube=\"mail\",state=\"reserved\"} 1\n",
		"\n# TYPE reprieve_wal_disk_bytes gauge\n", "\nreprieve_wal_segments{store=\"hot\"} "} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %q: %d\n%s", want, code, body)
		}
	}
	if code, body := call("GET", "/", ""); code != 200 || !strings.Contains(body, "/assets/app.js") {
		t.Errorf("dashboard: %d %s", code, body)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM\n%s", p.output())
	}
	if conn, err := net.Dial("tcp", adminAddr); err == nil {
		conn.Close()
		t.Error("the admin interface still listens after the server stopped")
	}
}

// testServeAdminAddressInUse checks that a busy admin address stops the
// start with a clear error.
func testServeAdminAddressInUse(t *testing.T, bin string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(bin, "serve", "--no-log", "--listen", freePort(t), "--admin-listen", ln.Addr().String()).CombinedOutput()
	want := "reprieve serve: admin: admin: listen on " + ln.Addr().String() + ": "
	hint := "address already in use (is another server running there? choose another with --admin-listen)"
	if err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), hint) {
		t.Fatalf("serve on a busy admin address: %v\n%s", err, out)
	}
}
