package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/reprieve/reprieve/internal/certs"
)

// DialTLS connects to the server at addr (host:port) over TLS with cfg and
// completes the handshake before it returns, so that a certificate the
// client does not trust, or one the server refuses, is reported here and
// not by the first command. If cfg.ServerName is empty the host of addr is
// verified. A nil cfg verifies the server against the system's roots. The
// context bounds the connection attempt and the handshake only.
func DialTLS(ctx context.Context, addr string, cfg *tls.Config) (*Conn, error) {
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s over TLS: %w", addr, err)
	}
	return NewConn(nc, addr), nil
}

// TLSDialer returns a dial function that connects with DialTLS and cfg,
// for PoolConfig.Dial:
//
//	client.NewPool(ctx, client.PoolConfig{Addrs: addrs, Dial: client.TLSDialer(cfg)})
func TLSDialer(cfg *tls.Config) func(ctx context.Context, addr string) (*Conn, error) {
	return func(ctx context.Context, addr string) (*Conn, error) {
		return DialTLS(ctx, addr, cfg)
	}
}

// LoadCAs reads a PEM file of CA certificates: the roots a client
// verifies servers with, or the CAs a server verifies client certificates
// with. Its errors start with the file's name.
func LoadCAs(file string) (*x509.CertPool, error) { return certs.LoadCAs(file) }
