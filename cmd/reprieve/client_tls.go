package main

// This file holds the --tls* flags of the client subcommands: talking to
// servers whose job port is served over TLS (reprieve serve --tls-cert,
// or beanstalkd behind stunnel), verifying them with the system's roots
// or a CA file, and presenting a client certificate for mutual TLS.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/reprieve/reprieve/client"
)

// tlsFlags are the --tls* flags of one client subcommand.
type tlsFlags struct {
	on                bool
	caFile            string
	certFile, keyFile string
	serverName        string
}

// register adds the --tls* flags to fs.
func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "tls", false, "connect over TLS, verifying the server with the system's roots (implied by the other --tls-* flags)")
	fs.StringVar(&f.caFile, "tls-ca", "", "verify the server with the CA certificates of this PEM `file` instead of the system's roots")
	fs.StringVar(&f.certFile, "tls-cert", "", "present this PEM client certificate `file` (for servers with --tls-client-ca; needs --tls-key)")
	fs.StringVar(&f.keyFile, "tls-key", "", "the PEM private key `file` of --tls-cert")
	fs.StringVar(&f.serverName, "tls-server-name", "", "verify the server's certificate for this `name` instead of the host of --addr")
}

// config returns the TLS configuration the flags ask for, nil for plain
// TCP. Flags that go together are usage errors; files that cannot be used
// are errors naming them.
func (f *tlsFlags) config() (*tls.Config, error) {
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, usagef("--tls-cert and --tls-key go together: give both to present a client certificate, or neither")
	}
	if !f.on && f.caFile == "" && f.certFile == "" && f.serverName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
	if f.caFile != "" {
		pool, err := client.LoadCAs(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca %w", err)
		}
		cfg.RootCAs = pool
	}
	if f.certFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", f.certFile, f.keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// dialer returns how the subcommand connects to one server: over TLS if
// its flags asked for it, else plain TCP.
func (c *cli) dialer() func(ctx context.Context, addr string) (*client.Conn, error) {
	if c.tls != nil {
		return client.TLSDialer(c.tls)
	}
	return client.Dial
}

// run runs a client subcommand and, if it failed on a connection that the
// server closed while TLS was not asked for, checks whether the servers
// involved speak TLS and says so with the flag to add.
func (c *cli) run(cmd func(*cli, []string) error, args []string) error {
	err := cmd(c, args)
	if err == nil || c.tls != nil || c.addrs == nil || !errors.Is(err, client.ErrClosed) {
		return err
	}
	for _, a := range *c.addrs {
		if strings.Contains(err.Error(), a) && speaksTLS(c.context(), a) {
			err = fmt.Errorf("%w (%s serves TLS: add --tls, with --tls-ca FILE for a private CA)", err, a)
		}
	}
	return err
}

// speaksTLS reports whether a TLS handshake with addr completes (without
// verifying the certificate: it only tells a TLS port from a plain one).
func speaksTLS(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
