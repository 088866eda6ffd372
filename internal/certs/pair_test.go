package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin/admintest"
	"github.com/reprieve/reprieve/internal/certs"
	"github.com/reprieve/reprieve/internal/clock"
)

func TestLoadRefusesWhatClientsWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "ca")
	other := admintest.NewCA(t, t.TempDir(), "other")
	now := time.Now()
	good, goodKey := ca.Server(t, "good")
	expired, expiredKey := ca.ServerValid(t, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future, futureKey := ca.ServerValid(t, "future", now.Add(24*time.Hour), now.Add(48*time.Hour))
	client, clientKey := ca.Client(t, "client")

	for _, tc := range []struct {
		name          string
		cert, key, ca string
		want          error
		wantInMessage string
	}{
		{name: "valid", cert: good, key: goodKey},
		{name: "valid and signed by the CA", cert: good, key: goodKey, ca: ca.CertFile},
		{name: "expired", cert: expired, key: expiredKey, want: certs.ErrExpired, wantInMessage: "expired at"},
		{name: "not yet valid", cert: future, key: futureKey, want: certs.ErrNotYetValid, wantInMessage: "is valid from"},
		{name: "another CA", cert: good, key: goodKey, ca: other.CertFile, want: certs.ErrUntrusted, wantInMessage: other.CertFile},
		{name: "a client certificate", cert: client, key: clientKey, ca: ca.CertFile, want: certs.ErrUntrusted},
		{name: "key of another certificate", cert: good, key: expiredKey, want: certs.ErrBadPair, wantInMessage: good},
		{name: "no key file", cert: good, want: certs.ErrBadPair, wantInMessage: "a certificate file and a key file are both required"},
		{name: "missing file", cert: dir + "/nope.pem", key: goodKey, want: certs.ErrBadPair, wantInMessage: "nope.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := certs.Load(certs.Config{CertFile: tc.cert, KeyFile: tc.key, CAFile: tc.ca})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := p.Leaf().Subject.CommonName; got != "good" {
					t.Fatalf("leaf %q, want good", got)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantInMessage) {
				t.Fatalf("Load: %q does not say %q", err, tc.wantInMessage)
			}
		})
	}
}

// TestLoadChecksAtTheClocksTime: validity is judged at the injected
// clock's time, so a pair that expires is refused once it has.
func TestLoadChecksAtTheClocksTime(t *testing.T) {
	ca := admintest.NewCA(t, t.TempDir(), "ca")
	cert, key := ca.Server(t, "server") // valid for an hour either side of now
	clk := clock.NewFake(time.Now())
	p, err := certs.Load(certs.Config{CertFile: cert, KeyFile: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	if err := p.Reload(); !errors.Is(err, certs.ErrExpired) {
		t.Fatalf("Reload two hours on: %v, want ErrExpired", err)
	}
	if _, err := certs.Load(certs.Config{CertFile: cert, KeyFile: key, Clock: clk}); !errors.Is(err, certs.ErrExpired) {
		t.Fatalf("Load two hours on: %v, want ErrExpired", err)
	}
}

// TestReloadKeepsThePairInUse: handshakes get a renewed certificate, and
// keep the old one when the renewal is refused; the refusal is logged
// with its reason.
func TestReloadKeepsThePairInUse(t *testing.T) {
	dir := t.TempDir()
	ca := admintest.NewCA(t, dir, "ca")
	other := admintest.NewCA(t, t.TempDir(), "other")
	cert, key := ca.Server(t, "server")
	p, err := certs.Load(certs.Config{CertFile: cert, KeyFile: key, CAFile: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: p.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	var accepting sync.WaitGroup
	t.Cleanup(func() { ln.Close(); accepting.Wait() })
	accepting.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	})
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	first := served().SerialNumber

	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	replace := func(newCert, newKey string) {
		t.Helper()
		for _, f := range [][2]string{{newCert, cert}, {newKey, key}} {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now()
	for _, bad := range []struct {
		name   string
		issue  func() (string, string)
		reason string
	}{
		{"expired", func() (string, string) { return ca.ServerValid(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour)) }, "certificate expired"},
		{"not yet valid", func() (string, string) { return ca.ServerValid(t, "new", now.Add(time.Hour), now.Add(2*time.Hour)) }, "not yet valid"},
		{"another CA", func() (string, string) { return other.Server(t, "stranger") }, "does not verify against the CA"},
	} {
		logs.Reset()
		replace(bad.issue())
		p.ReloadLogged(log, "job port")
		if got := served().SerialNumber; got.Cmp(first) != 0 {
			t.Fatalf("%s: handshakes got serial %v after a refused reload, want the old %v", bad.name, got, first)
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "keeping the one in use") || !strings.Contains(logs.String(), bad.reason) {
			t.Fatalf("%s: log %q does not give the refusal and its reason %q", bad.name, logs.String(), bad.reason)
		}
	}

	logs.Reset()
	replace(ca.Server(t, "renewed"))
	p.ReloadLogged(log, "job port")
	got := served()
	if got.Subject.CommonName != "renewed" || got.SerialNumber.Cmp(first) == 0 {
		t.Fatalf("after a good reload handshakes got %q serial %v, want the renewed certificate", got.Subject.CommonName, got.SerialNumber)
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Fatalf("log %q does not report the reload", logs.String())
	}
}
