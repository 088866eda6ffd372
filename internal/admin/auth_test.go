package admin_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/broker"
)

// TestToken checks that the API and /metrics need the token, that a
// missing or wrong one gets 401 with WWW-Authenticate, and that health
// checks and the dashboard's static files do not.
func TestToken(t *testing.T) {
	e := start(t, options{token: "s3cret-T0ken"})
	missing := "{\n  \"error\": \"this server needs an admin token: send the header Authorization: Bearer <token>\",\n  \"code\": \"unauthorized\"\n}\n"
	wrong := "{\n  \"error\": \"the admin token is wrong: send the header Authorization: Bearer <token> with the server's --admin-token\",\n  \"code\": \"unauthorized\"\n}\n"
	for _, path := range []string{"/api/v1/stats", "/api/v1/tubes", "/api/v1/tubes/default/kick", "/api/v1/jobs/1", "/api/v1/nothing", "/metrics"} {
		r := e.doToken(t, "GET", path, "")
		r.want(t, "no token: GET "+path, 401, missing)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="reprieve"` {
			t.Errorf("no token: GET %s: WWW-Authenticate %q", path, got)
		}
		r = e.doToken(t, "GET", path, "s3cret-T0kem")
		r.want(t, "wrong token: GET "+path, 401, wrong)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="reprieve", error="invalid_token"` {
			t.Errorf("wrong token: GET %s: WWW-Authenticate %q", path, got)
		}
	}
	// A method check comes after the token check: nothing leaks.
	e.doToken(t, "DELETE", "/api/v1/stats", "").want(t, "no token: DELETE stats", 401, missing)

	for _, path := range []string{"/api/v1/stats", "/api/v1/tubes/default", "/metrics"} {
		if r := e.do(t, "GET", path); r.status != 200 {
			t.Errorf("right token: GET %s: %d %s", path, r.status, r.body)
		}
	}
	// Other schemes and spellings of the header.
	for _, auth := range []string{"Basic czNjcmV0LVQwa2Vu", "s3cret-T0ken", "Bearer", "Bearer s3cret-T0ken extra"} {
		req, _ := http.NewRequest("GET", e.url+"/api/v1/stats", nil)
		req.Header.Set("Authorization", auth)
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %q: %d", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "bearer s3cret-T0ken")
	if resp, err := e.http.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("lower-case scheme: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, path := range []string{"/healthz", "/readyz", "/", "/assets/app.js", "/assets/style.css"} {
		if r := e.doToken(t, "GET", path, ""); r.status != 200 {
			t.Errorf("no token: GET %s: %d", path, r.status)
		}
	}
}

// TestMetricsPublic serves /metrics without the token when asked to,
// and nothing else.
func TestMetricsPublic(t *testing.T) {
	e := start(t, options{token: "tok", metricsPublic: true})
	if r := e.doToken(t, "GET", "/metrics", ""); r.status != 200 || !strings.Contains(r.body, "# TYPE reprieve_jobs gauge") {
		t.Errorf("public /metrics: %d %s", r.status, r.body)
	}
	if r := e.doToken(t, "GET", "/api/v1/stats", ""); r.status != 401 {
		t.Errorf("stats without the token: %d", r.status)
	}
}

// TestConfigErrors checks what New and Listen refuse.
func TestConfigErrors(t *testing.T) {
	if _, err := admin.New(admin.Config{}); !errors.Is(err, admin.ErrConfig) {
		t.Errorf("no broker: %v", err)
	}
	b := broker.New(broker.Config{})
	defer b.Close()
	if _, err := admin.New(admin.Config{Broker: b, Token: "two words"}); !errors.Is(err, admin.ErrConfig) {
		t.Errorf("token with a space: %v", err)
	}
	dir := t.TempDir()
	cert, key := admintest.SelfSigned(t, dir)
	for _, tt := range []struct {
		cfg  admin.ListenConfig
		want string
	}{
		{admin.ListenConfig{Addr: "127.0.0.1:0", CertFile: cert}, "admin: TLS needs both a certificate and a key file"},
		{admin.ListenConfig{Addr: "127.0.0.1:0", KeyFile: key}, "admin: TLS needs both a certificate and a key file"},
		{admin.ListenConfig{Addr: "127.0.0.1:0", CertFile: key, KeyFile: cert}, "admin: TLS: certs: unusable certificate or key: " + key + " with key " + cert + ": "},
		{admin.ListenConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "none.pem"), KeyFile: key}, "no such file or directory"},
		{admin.ListenConfig{Addr: "127.0.0.1:nope"}, "admin: listen on 127.0.0.1:nope: "},
		{admin.ListenConfig{Addr: "127.0.0.1:0", Hosts: []string{"https://admin.example.com"}}, `admin: host "https://admin.example.com": want a host name or address, without a scheme or a path`},
		{admin.ListenConfig{Addr: "127.0.0.1:0", CAFile: cert}, "admin: a CA file to check the certificate against needs the certificate"},
	} {
		s, err := admin.Listen(tt.cfg)
		if err == nil {
			s.Shutdown(context.Background())
			t.Errorf("%+v: no error", tt.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// TestTLS serves HTTPS with a self-signed certificate made here and checks
// that a client trusting it gets the API, and a plain HTTP one does not.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := admintest.SelfSigned(t, dir)
	b := broker.New(broker.Config{})
	defer b.Close()
	h, err := admin.New(admin.Config{Broker: b, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := admin.Listen(admin.ListenConfig{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(h)
	defer s.Shutdown(context.Background())
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}

	pemCert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", s.URL()+"/api/v1/tubes/default", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(body), `"name": "default"`) {
		t.Fatalf("HTTPS: %d %v %s", resp.StatusCode, resp.TLS, body)
	}

	// A client that does not trust the certificate is refused.
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.URL() + "/healthz"); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
	// Plain HTTP to the TLS port gets no API reply.
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get("http://" + s.Addr().String() + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS port: %d %s", resp.StatusCode, body)
		}
	}
}
