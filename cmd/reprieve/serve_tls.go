package main

// This file holds TLS on serve's job port: the --tls-* flags, loading the
// certificate, key and client CAs at start (a bad file stops the start),
// reloading the certificate and key on SIGHUP (a bad file is logged and the
// old pair kept), and wrapping the listener. The plain path is untouched:
// without --tls-cert the listener is not wrapped.

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	t := &serveTLS{}
	registerServePlugin(servePlugin{
		name:      "tls",
		flags:     t.register,
		configure: t.configure,
		listener:  t.wrap,
	})
}

// serveTLS is the TLS of serve's job port: its flags and, once they are
// loaded, the configuration the listener is wrapped with (nil: plain TCP).
type serveTLS struct {
	certFile, keyFile, clientCAFile string
	config                          *tls.Config

	// cert is the pair handshakes use; SIGHUP replaces it.
	cert atomic.Pointer[tls.Certificate]
}

func (t *serveTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&t.certFile, "tls-cert", "", "serve the job port over TLS with this PEM certificate `file` (the chain, leaf first; needs --tls-key)")
	fs.StringVar(&t.keyFile, "tls-key", "", "the PEM private key `file` of --tls-cert")
	fs.StringVar(&t.clientCAFile, "tls-client-ca", "", "require a client certificate signed by a CA of this PEM `file` (mutual TLS; needs --tls-cert)")
}

// configure checks the flags together and loads the files, so that a
// mistake stops the start before the log replays.
func (t *serveTLS) configure(log *slog.Logger, _ *broker.Config, _ *server.Config) (func(*broker.Broker) error, func() error, error) {
	if (t.certFile == "") != (t.keyFile == "") {
		return nil, nil, usagef("--tls-cert and --tls-key go together: give both to serve the job port over TLS, or neither for plain TCP")
	}
	if t.certFile == "" {
		if t.clientCAFile != "" {
			return nil, nil, usagef("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS")
		}
		return nil, nil, nil
	}
	// Catch SIGHUP before the files are read, so that a renewal signalled
	// during the start is not lost.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	cfg, err := loadServerTLS(t.certFile, t.keyFile, t.clientCAFile)
	if err != nil {
		signal.Stop(hup)
		return nil, nil, err
	}
	t.use(log, &cfg.Certificates[0])
	cfg.Certificates = nil
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return t.cert.Load(), nil }
	t.config = cfg
	log.Info("job port over TLS", "cert", t.certFile, "subject", t.cert.Load().Leaf.Subject.String(),
		"not_after", t.cert.Load().Leaf.NotAfter.UTC().Format(time.RFC3339), "client_certs", t.clientCAFile != "")

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				t.reload(log)
			}
		}
	})
	stop := func() error {
		signal.Stop(hup)
		close(done)
		wg.Wait()
		return nil
	}
	return nil, stop, nil
}

// use makes cert the pair new handshakes get, warning if it is not valid
// now.
func (t *serveTLS) use(log *slog.Logger, cert *tls.Certificate) {
	t.cert.Store(cert)
	leaf := cert.Leaf
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		log.Warn("the --tls-cert certificate is not valid now: clients that verify it will refuse it",
			"cert", t.certFile, "not_before", leaf.NotBefore.UTC().Format(time.RFC3339), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
}

// reload reads --tls-cert and --tls-key again (on SIGHUP): new handshakes
// get the new pair, connections already open keep theirs; a pair that
// cannot be used is logged and the old one kept.
func (t *serveTLS) reload(log *slog.Logger) {
	cert, err := loadKeyPair(t.certFile, t.keyFile)
	if err != nil {
		log.Error("TLS certificate not reloaded; keeping the one in use", "err", err)
		return
	}
	t.use(log, cert)
	log.Info("TLS certificate reloaded", "cert", t.certFile, "subject", cert.Leaf.Subject.String(),
		"serial", cert.Leaf.SerialNumber.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// wrap serves ln over TLS when --tls-cert is given.
func (t *serveTLS) wrap(ln net.Listener) net.Listener {
	if t.config == nil {
		return ln
	}
	return tls.NewListener(ln, t.config)
}

// loadServerTLS reads the certificate, its key and, if caFile is not
// empty, the CAs that client certificates must be signed by. Its errors
// name the file and say what is wrong with it.
func loadServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
	}
	if caFile != "" {
		pool, err := client.LoadCAs(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// loadKeyPair reads a PEM certificate (the chain, leaf first) and its key,
// with the leaf parsed. Its errors name the files and say what is wrong.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
		}
	}
	return &cert, nil
}
