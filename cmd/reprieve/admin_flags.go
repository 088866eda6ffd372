package main

// This file holds the --admin-* flags that reprieve serve and reprieve run
// share: their names, their checks (the loopback rule, the token file),
// binding the admin listener, and reloading its TLS certificate on SIGHUP.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
)

// adminShutdownTimeout bounds how long admin requests in progress get to
// finish when the process stops.
const adminShutdownTimeout = 5 * time.Second

// adminFlags are the --admin-* flags of one command.
type adminFlags struct {
	listen, token, tokenFile string
	certFile, keyFile        string
	insecure, metricsPublic  bool
	// exposure says, for the loopback rule's error, what anyone who
	// reaches an admin interface without a token could do.
	exposure string
}

// register adds the --admin-* flags to fs; serves says what
// --admin-listen serves and exposure what the loopback rule protects.
func (a *adminFlags) register(fs *flag.FlagSet, serves, exposure string) {
	a.exposure = exposure
	fs.StringVar(&a.listen, "admin-listen", "", "serve "+serves+" on this `address` (HOST:PORT, such as 127.0.0.1:8080); off by default")
	fs.StringVar(&a.token, "admin-token", "", "require `TOKEN` as \"Authorization: Bearer TOKEN\" on the admin API and /metrics (visible in ps: prefer --admin-token-file)")
	fs.StringVar(&a.tokenFile, "admin-token-file", "", "read the admin token from `file` (surrounding white space ignored)")
	fs.StringVar(&a.certFile, "admin-tls-cert", "", "serve the admin interface over HTTPS with this PEM certificate `file` (needs --admin-tls-key)")
	fs.StringVar(&a.keyFile, "admin-tls-key", "", "the PEM private key `file` of --admin-tls-cert")
	fs.BoolVar(&a.insecure, "admin-insecure", false, "allow --admin-listen on a non-loopback address without a token")
	fs.BoolVar(&a.metricsPublic, "admin-metrics-public", false, "serve /metrics without the admin token (for a Prometheus without credentials)")
}

// validate checks the flags together and reads the token file; its
// errors are usage errors (exit status 2).
func (a *adminFlags) validate() error {
	if a.listen == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"--admin-token", a.token != ""}, {"--admin-token-file", a.tokenFile != ""},
			{"--admin-tls-cert", a.certFile != ""}, {"--admin-tls-key", a.keyFile != ""},
			{"--admin-insecure", a.insecure}, {"--admin-metrics-public", a.metricsPublic},
		} {
			if f.set {
				return usagef("%s needs --admin-listen: the admin interface is off without it", f.name)
			}
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(a.listen); err != nil {
		return usagef("--admin-listen %q: want HOST:PORT, such as 127.0.0.1:8080", a.listen)
	}
	if a.token != "" && a.tokenFile != "" {
		return usagef("--admin-token and --admin-token-file both given: use one")
	}
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return usagef("--admin-token-file: %v", err)
		}
		a.token = strings.TrimSpace(string(b))
		if a.token == "" {
			return usagef("--admin-token-file %s is empty: write the token in it", a.tokenFile)
		}
	}
	if strings.ContainsAny(a.token, " \t\r\n") {
		return usagef("the admin token must not contain spaces or line breaks")
	}
	if (a.certFile == "") != (a.keyFile == "") {
		return usagef("--admin-tls-cert and --admin-tls-key go together: give both for HTTPS, or neither for HTTP")
	}
	if a.token == "" && !a.insecure && !admin.IsLoopback(a.listen) {
		return usagef("--admin-listen %q is not a loopback address, and without a token anyone who reaches it can %s: "+
			"set --admin-token or --admin-token-file, listen on 127.0.0.1, or add --admin-insecure to serve it without a token anyway", a.listen, a.exposure)
	}
	return nil
}

// boundAdmin is the admin interface's server and, with TLS, the goroutine
// that reloads its certificate on SIGHUP (stopped by stopAdmin).
type boundAdmin struct {
	*admin.Server
	stopReload func()
}

// bind listens on --admin-listen with the TLS flags; nothing is served
// until Start. A busy address gets a hint. With TLS, SIGHUP reloads the
// certificate and key from then on: new handshakes get the new pair, a
// pair that cannot be used is logged and the old one kept.
func (a *adminFlags) bind(log *slog.Logger) (*boundAdmin, error) {
	srv, err := admin.Listen(admin.ListenConfig{Addr: a.listen, CertFile: a.certFile, KeyFile: a.keyFile, Logger: log})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w (is another server running there? choose another with --admin-listen)", err)
	}
	if err != nil {
		return nil, err
	}
	b := &boundAdmin{Server: srv, stopReload: func() {}}
	if a.certFile == "" {
		return b, nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := srv.ReloadCertificate(); err != nil {
					log.Error("admin interface: TLS certificate not reloaded; keeping the one in use", "err", err)
				} else {
					log.Info("admin interface: TLS certificate reloaded", "cert", a.certFile)
				}
			}
		}
	})
	b.stopReload = func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
	return b, nil
}

// stopAdmin shuts srv down, giving requests in progress
// adminShutdownTimeout; a timeout is logged, not returned, since the
// process is stopping anyway.
func stopAdmin(log *slog.Logger, srv *boundAdmin) {
	srv.stopReload()
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("admin interface: shutdown timed out; its requests were cut off", "err", err)
	}
}
