package module

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/pipeline"
)

// tlsArgs are the arguments of input.tube and output.tube that connect over
// TLS (to reprieve serve --tls-cert, or a beanstalkd behind a TLS proxy).
var tlsArgs = []pipeline.Arg{
	{Name: "tls", Type: pipeline.Bool, Default: false, Doc: "connect over TLS, verifying the server with the system's roots (implied by the other tls_* arguments)"},
	{Name: "tls_ca", Type: pipeline.String, Default: "", Doc: "verify the server with the CA certificates of this PEM file instead of the system's roots"},
	{Name: "tls_cert", Type: pipeline.String, Default: "", Doc: "present this PEM client certificate (for servers with --tls-client-ca; needs tls_key)"},
	{Name: "tls_key", Type: pipeline.String, Default: "", Doc: "the PEM private key of tls_cert"},
	{Name: "tls_server_name", Type: pipeline.String, Default: "", Doc: "verify the server's certificate for this name instead of the host of address"},
}

// tlsConfig returns the TLS configuration a's tls arguments ask for, nil
// for plain TCP; its errors name the argument and the file.
func tlsConfig(a pipeline.Args) (*tls.Config, error) {
	ca, cert, key, name := a.String("tls_ca"), a.String("tls_cert"), a.String("tls_key"), a.String("tls_server_name")
	if (cert == "") != (key == "") {
		arg := "tls_cert"
		if cert == "" {
			arg = "tls_key"
		}
		return nil, &pipeline.ArgError{Arg: arg, Msg: "tls_cert and tls_key go together: give both to present a client certificate, or neither"}
	}
	if !a.Bool("tls") && ca == "" && cert == "" && name == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name}
	if ca != "" {
		pool, err := client.LoadCAs(ca)
		if err != nil {
			return nil, &pipeline.ArgError{Arg: "tls_ca", Msg: err.Error()}
		}
		cfg.RootCAs = pool
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, &pipeline.ArgError{Arg: "tls_cert", Msg: fmt.Sprintf("%s with tls_key %s: %v", cert, key, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// dialer returns how a tube module connects: over TLS with cfg, or plain
// TCP when cfg is nil.
func dialer(cfg *tls.Config) func(ctx context.Context, addr string) (*client.Conn, error) {
	if cfg != nil {
		return client.TLSDialer(cfg)
	}
	return client.Dial
}
