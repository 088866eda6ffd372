package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded starts this node's own nats-server: JetStream in
// cfg.StoreDir, routes on cfg.Listen to cfg.Peers, a client port on a
// random loopback port (the node connects in-process). It returns once the server accepts
// connections; JetStream may still be waiting for its peers.
func startEmbedded(cfg Config, log *slog.Logger) (*server.Server, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.Node,
		// A client port is needed for routing to start; the node itself
		// connects in-process. It listens on loopback only.
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
	}
	if len(cfg.Peers) > 0 {
		// A lone node (one replica) is a standalone JetStream server.
		opts.Cluster = server.ClusterOpts{Name: cfg.Name, Host: host, Port: port}
	}
	for _, p := range cfg.Peers {
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: p})
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(cfg.StartTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS did not start within %v (is the route port %s free? choose another with --cluster-listen)", cfg.StartTimeout, cfg.Listen)
	}
	return ns, nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %w", ErrConfig, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("%w: %q: bad port", ErrConfig, addr)
	}
	return h, n, nil
}

// natsLogger passes the embedded server's warnings and errors to slog;
// its notices go to debug level (they are many at start).
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug-4) {
		l.log.Debug(fmt.Sprintf(format, v...))
	}
}
func (l natsLogger) Tracef(format string, v ...any) {}
