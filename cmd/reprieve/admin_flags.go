package main

// This file holds the --admin-* flags that reprieve serve and reprieve run
// share: their names, their checks (the loopback rule, the token file),
// binding the admin listener, and reloading TLS certificates on SIGHUP.

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
	"github.com/reprieve/reprieve/internal/server"
)

// adminShutdownTimeout bounds how long admin requests in progress get to
// finish when the process stops.
const adminShutdownTimeout = 5 * time.Second

// adminFlags are the --admin-* flags of one command.
type adminFlags struct {
	listen, token, tokenFile  string
	certFile, keyFile, caFile string
	hosts                     stringList
	insecure, metricsPublic   bool
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
	fs.StringVar(&a.caFile, "admin-tls-ca", "", "refuse an --admin-tls-cert, at start and on SIGHUP, that does not verify against the CAs of this PEM `file`")
	fs.Var(&a.hosts, "admin-host", "also accept requests whose Host header is this `name` (repeatable; for a reverse proxy's public name; \"*\" accepts any)")
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
			{"--admin-tls-ca", a.caFile != ""}, {"--admin-host", len(a.hosts) > 0},
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
	for _, h := range a.hosts {
		if h == "" || strings.ContainsAny(h, "/ \t\r\n@") {
			return usagef("--admin-host %q: want a host name or address such as admin.example.com, without a scheme or a path", h)
		}
	}
	if a.caFile != "" && a.certFile == "" {
		return usagef("--admin-tls-ca needs --admin-tls-cert and --admin-tls-key: it checks their certificate")
	}
	if a.token == "" && !a.insecure && !server.IsLoopback(a.listen) {
		return usagef("--admin-listen %q is not a loopback address, and without a token anyone who reaches it can %s: "+
			"set --admin-token or --admin-token-file, listen on 127.0.0.1, or add --admin-insecure to serve it without a token anyway", a.listen, a.exposure)
	}
	return nil
}

// boundAdmin is the admin interface's server and, with TLS, the goroutine
// that reloads its certificate on SIGHUP (stopped by stopAdmin).
type boundAdmin struct {
	*admin.Server
	hup *hupWatch
}

// bind listens on --admin-listen with the TLS flags; nothing is served
// until Start. A busy address gets a hint. With TLS, SIGHUP reloads the
// certificate and key from then on: new handshakes get the new pair, a
// pair that is refused is logged and the old one kept.
func (a *adminFlags) bind(log *slog.Logger) (*boundAdmin, error) {
	var hup *hupWatch
	if a.certFile != "" {
		hup = notifyHUP()
	}
	srv, err := admin.Listen(admin.ListenConfig{Addr: a.listen, Hosts: a.hosts, CertFile: a.certFile, KeyFile: a.keyFile, CAFile: a.caFile, Logger: log})
	if err != nil {
		if hup != nil {
			hup.stop()
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w (is another server running there? choose another with --admin-listen)", err)
		}
		return nil, err
	}
	if hup != nil {
		hup.run(func() { srv.Certificates().ReloadLogged(log, "admin interface") })
	}
	return &boundAdmin{Server: srv, hup: hup}, nil
}

// hupWatch runs a reload on each SIGHUP, on a goroutine that stop ends
// and waits for.
type hupWatch struct {
	ch   chan os.Signal
	done chan struct{}
	wg   sync.WaitGroup
}

// notifyHUP starts catching SIGHUP (kept until run or stop), so that a
// signal sent while files are being loaded is not lost.
func notifyHUP() *hupWatch {
	h := &hupWatch{ch: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(h.ch, syscall.SIGHUP)
	return h
}

// run calls reload on each SIGHUP until stop. Call it at most once.
func (h *hupWatch) run(reload func()) {
	h.wg.Go(func() {
		for {
			select {
			case <-h.done:
				return
			case <-h.ch:
				reload()
			}
		}
	})
}

// stop stops catching SIGHUP and waits for run's goroutine.
func (h *hupWatch) stop() {
	signal.Stop(h.ch)
	close(h.done)
	h.wg.Wait()
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// stopAdmin shuts srv down, giving requests in progress
// adminShutdownTimeout; a timeout is logged, not returned, since the
// process is stopping anyway.
func stopAdmin(log *slog.Logger, srv *boundAdmin) {
	if srv.hup != nil {
		srv.hup.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("admin interface: shutdown timed out; its requests were cut off", "err", err)
	}
}
