package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ListenConfig says where and how the admin interface listens.
type ListenConfig struct {
	// Addr is the TCP address, HOST:PORT.
	Addr string
	// CertFile and KeyFile, both set, serve HTTPS with this PEM
	// certificate (chain) and key; both empty serve plain HTTP.
	CertFile, KeyFile string
	// Logger receives the HTTP server's own errors (bad TLS handshakes);
	// default slog.Default().
	Logger *slog.Logger
}

// Server serves a handler on one listener until Shutdown.
type Server struct {
	hs     *http.Server
	ln     net.Listener
	tls    bool
	served chan error // Serve's result, once started
	// started is set by Start, before the goroutine runs; only the
	// goroutine calling Start and Shutdown (the same owner) touches it.
	started bool

	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate] // what handshakes get
}

// Listen binds cfg.Addr and, with a certificate, loads it and wraps the
// listener in TLS; the handler is not served until Start. An address in
// use, an unreadable certificate or a key that does not match it is an
// error here, before anything is served.
func Listen(cfg ListenConfig) (*Server, error) {
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.Join(ErrConfig, errors.New("admin: TLS needs both a certificate and a key file"))
	}
	s := &Server{certFile: cfg.CertFile, keyFile: cfg.KeyFile, tls: cfg.CertFile != "", served: make(chan error, 1)}
	var tc *tls.Config
	if s.tls {
		if err := s.ReloadCertificate(); err != nil {
			return nil, err
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s.ln = ln
	s.hs = &http.Server{
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
// renewal): new handshakes get the new pair, connections already open keep
// theirs. A pair that cannot be used is an error and the one in use stays.
// Without TLS it does nothing. Safe to call while serving.
func (s *Server) ReloadCertificate() error {
	if !s.tls {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("admin: load TLS certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert.Store(&cert)
	return nil
}

// Addr returns the address listened on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the base URL of the interface, http:// or https://.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Start serves h on a goroutine that Shutdown waits for. Call it once.
func (s *Server) Start(h http.Handler) {
	s.started = true
	s.hs.Handler = h
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

// IsLoopback reports whether addr (HOST:PORT) listens on loopback only:
// a loopback IP or "localhost". An empty host means every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
