package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/certs"
	"github.com/reprieve/reprieve/internal/server"
)

// ListenConfig says where and how the admin interface listens.
type ListenConfig struct {
	// Addr is the TCP address, HOST:PORT.
	Addr string
	// CertFile and KeyFile, both set, serve HTTPS with this PEM
	// certificate (chain) and key; both empty serve plain HTTP.
	CertFile, KeyFile string
	// Hosts are names requests may carry in their Host header besides the
	// address listened on (and, on loopback, localhost and any loopback
	// IP; on every interface, any IP): other requests are refused with
	// 421. "*" accepts any Host.
	Hosts []string
	// CAFile, if set with CertFile, is a PEM file of CAs the certificate
	// must verify against, at Listen and at every reload (certs.Config).
	CAFile string
	// Logger receives the HTTP server's own errors (bad TLS handshakes,
	// at debug) and the warning about plain HTTP beyond loopback; default
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports a ListenConfig that cannot work; its errors wrap
// ErrConfig.
func (c ListenConfig) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.Join(ErrConfig, errors.New("admin: TLS needs both a certificate and a key file"))
	}
	if c.CAFile != "" && c.CertFile == "" {
		return errors.Join(ErrConfig, errors.New("admin: a CA file to check the certificate against needs the certificate"))
	}
	for _, h := range c.Hosts {
		if canonicalHost(h) == "" || strings.ContainsAny(h, "/ \t\r\n@") {
			return errors.Join(ErrConfig, fmt.Errorf("admin: host %q: want a host name or address, without a scheme or a path", h))
		}
	}
	return nil
}

// Server serves a handler on one listener until Shutdown.
type Server struct {
	hs     *http.Server
	ln     net.Listener
	served chan error // Serve's result, once started
	// started is set by Start, before the goroutine runs; only the
	// goroutine calling Start and Shutdown (the same owner) touches it.
	started bool
	// pair is what TLS handshakes get; nil for plain HTTP.
	pair *certs.Pair
	// hosts is the Host rule every request passes first.
	hosts hostRule
}

// Listen binds cfg.Addr and, with a certificate, loads and checks it
// (certs.Load) and wraps the listener in TLS; the handler is not served
// until Start. An address in use, an unreadable certificate, a key that
// does not match it, or a certificate that is expired, not yet valid or
// not signed by CAFile is an error here, before anything is served. Plain
// HTTP beyond loopback is logged as a warning.
func Listen(cfg ListenConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{served: make(chan error, 1)}
	var tc *tls.Config
	if cfg.CertFile != "" {
		pair, err := certs.Load(certs.Config{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.CAFile})
		if err != nil {
			return nil, fmt.Errorf("admin: TLS: %w", err)
		}
		s.pair = pair
		tc = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	} else if !server.IsLoopback(ln.Addr().String()) {
		cfg.Logger.Warn("the admin interface is served over plain HTTP beyond loopback: its token, job bodies and actions "+
			"cross the network in clear text; serve it over HTTPS (--admin-tls-cert, --admin-tls-key), behind a "+
			"TLS-terminating proxy on 127.0.0.1, or on 127.0.0.1 only", "addr", ln.Addr().String())
	}
	s.ln = ln
	s.hosts = newHostRule(cfg.Addr, ln.Addr(), cfg.Hosts)
	s.hs = &http.Server{
		// ReadHeaderTimeout also bounds the TLS handshake.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ReloadCertificate reads the certificate and key files again (after a
// renewal) with certs.Pair.Reload: new handshakes get the new pair,
// connections already open keep theirs. A pair that cannot be used, is
// expired, not yet valid or not signed by the CA file is an error and the
// one in use stays. Without TLS it does nothing. Safe while serving.
func (s *Server) ReloadCertificate() error {
	if s.pair == nil {
		return nil
	}
	return s.pair.Reload()
}

// Certificates returns the pair HTTPS serves with, nil for plain HTTP.
func (s *Server) Certificates() *certs.Pair { return s.pair }

// Addr returns the address listened on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the base URL of the interface, http:// or https://.
func (s *Server) URL() string {
	if s.pair != nil {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Start serves h on a goroutine that Shutdown waits for, behind the Host
// rule (ListenConfig.Hosts): other requests get 421. Call it once.
func (s *Server) Start(h http.Handler) {
	s.started = true
	s.hs.Handler = s.hosts.wrap(h)
	go func() { s.served <- s.hs.Serve(s.ln) }()
}

// Shutdown stops accepting, lets requests in progress finish until ctx
// ends, then closes what is left; it returns once the serving goroutine
// has ended. Without Start it closes the listener.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started {
		return s.ln.Close()
	}
	err := s.hs.Shutdown(ctx)
	if err != nil {
		_ = s.hs.Close()
	}
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
