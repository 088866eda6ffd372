package main

// This file holds TLS on serve's job port: the --tls-* flags, loading and
// checking the certificate, key and CAs at start (a bad or expired file
// stops the start), and reloading the pair on SIGHUP (a refused pair is
// logged and the old one kept). The checks live in internal/certs and the
// handshake timeout in internal/server; this file only wires them.

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/certs"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	t := &serveTLS{}
	registerServePlugin(servePlugin{
		name:      "tls",
		flags:     t.register,
		configure: t.configure,
	})
}

// serveTLS is the TLS of serve's job port: its flags.
type serveTLS struct {
	certFile, keyFile, clientCAFile, caFile string
	handshakeTimeout                        time.Duration
}

func (t *serveTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&t.certFile, "tls-cert", "", "serve the job port over TLS with this PEM certificate `file` (the chain, leaf first; needs --tls-key)")
	fs.StringVar(&t.keyFile, "tls-key", "", "the PEM private key `file` of --tls-cert")
	fs.StringVar(&t.clientCAFile, "tls-client-ca", "", "require a client certificate signed by a CA of this PEM `file` (mutual TLS; needs --tls-cert)")
	fs.StringVar(&t.caFile, "tls-ca", "", "refuse a --tls-cert, at start and on SIGHUP, that does not verify against the CAs of this PEM `file` (what clients give to --tls-ca)")
	fs.DurationVar(&t.handshakeTimeout, "tls-handshake-timeout", server.DefaultHandshakeTimeout, "close a TLS connection that has not finished its handshake within this `duration`")
}

// configure checks the flags together and loads the files, so that a
// mistake stops the start before the log replays.
func (t *serveTLS) configure(log *slog.Logger, _ *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	if t.handshakeTimeout <= 0 {
		return nil, nil, usagef("--tls-handshake-timeout %v: want a positive duration such as 10s", t.handshakeTimeout)
	}
	sc.HandshakeTimeout = t.handshakeTimeout
	if (t.certFile == "") != (t.keyFile == "") {
		return nil, nil, usagef("--tls-cert and --tls-key go together: give both to serve the job port over TLS, or neither for plain TCP")
	}
	if t.certFile == "" {
		if t.clientCAFile != "" {
			return nil, nil, usagef("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS")
		}
		if t.caFile != "" {
			return nil, nil, usagef("--tls-ca needs --tls-cert and --tls-key: it checks their certificate")
		}
		return nil, nil, nil
	}
	// Catch SIGHUP before the files are read, so that a renewal signalled
	// during the start is not lost.
	hup := notifyHUP()
	pair, err := certs.Load(certs.Config{CertFile: t.certFile, KeyFile: t.keyFile, CAFile: t.caFile})
	if err != nil {
		hup.stop()
		return nil, nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if t.clientCAFile != "" {
		pool, err := client.LoadCAs(t.clientCAFile)
		if err != nil {
			hup.stop()
			return nil, nil, fmt.Errorf("--tls-client-ca %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	sc.TLS = cfg
	leaf := pair.Leaf()
	log.Info("job port over TLS", "cert", t.certFile, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "client_certs", t.clientCAFile != "", "ca", t.caFile)
	hup.run(func() { pair.ReloadLogged(log, "job port") })
	return nil, func() error { hup.stop(); return nil }, nil
}
