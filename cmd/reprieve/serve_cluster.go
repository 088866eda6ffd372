package main

// This file holds cluster mode of reprieve serve (docs/cluster.md): the
// --cluster-*, --nats-* and --replicas flags; a node that follows proxies
// the job port to the leader until it leads, then restores the engine
// from the stream and serves; a leader that steps down closes every
// connection and the server stops (a supervisor restarts it as a
// follower).

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/cluster"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	var flags cluster.Flags
	var fs *flag.FlagSet
	var leader atomic.Pointer[cluster.Leader]
	registerServePlugin(servePlugin{
		name: "cluster mode",
		flags: func(set *flag.FlagSet) {
			fs = set
			flags.Register(set)
		},
		configure: func(log *slog.Logger, bc *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
			if !flags.Enabled() {
				return nil, nil, nil
			}
			return configureCluster(&flags, fs, &leader, log, bc, sc)
		},
		serving: func(srv *server.Server) {
			if l := leader.Load(); l != nil {
				go func() {
					<-l.Done()
					// The node no longer leads: nothing more reaches a
					// client, and serve returns.
					_ = srv.Close()
				}()
			}
		},
		listener: func(ln net.Listener) net.Listener {
			if l := leader.Load(); l != nil {
				return l.Guard(ln)
			}
			return ln
		},
	})
}

// configureCluster opens the node and makes its journal the engine's;
// started blocks, proxying the job port to the leader, until this node
// leads, then restores the engine from the stream.
func configureCluster(flags *cluster.Flags, fs *flag.FlagSet, leader *atomic.Pointer[cluster.Leader], log *slog.Logger, bc *broker.Config, sc *server.Config) (func(*broker.Broker) error, func() error, error) {
	listen := fs.Lookup("listen").Value.String()
	data := fs.Lookup("data").Value.String()
	if noLog := fs.Lookup("no-log"); noLog != nil && noLog.Value.String() == "true" {
		return nil, nil, fmt.Errorf("--no-log and --cluster-name: cluster mode keeps its jobs in NATS; drop --no-log")
	}
	cfg, err := flags.Config(listen, data)
	if err != nil {
		return nil, nil, err
	}
	cfg.Logger = log
	if cfg.NATSURL == "" {
		if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("cluster: %w", err)
		}
	}
	log.Info("cluster: starting", "cluster", cfg.Name, "node", cfg.Node, "replicas", cfg.Replicas, "nats", cfg.NATSURL, "routes", cfg.Listen, "peers", cfg.Peers)
	node, err := cluster.Open(cfg)
	if err != nil {
		return nil, nil, err
	}
	bc.Journal = node.Journal()
	sc.ExtraStats = func() []beanstalk.KeyValue {
		l := leader.Load()
		if l == nil {
			return nil
		}
		keys := l.Stats().StatsKeys()
		kv := make([]beanstalk.KeyValue, len(keys))
		for i, k := range keys {
			kv[i] = beanstalk.KeyValue{Key: k[0], Value: k[1]}
		}
		return kv
	}
	started := func(b *broker.Broker) error {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (is another server running there? choose another with --listen)", listen, err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		log.Info("cluster: following; clients are proxied to the leader", "addr", ln.Addr().String())
		l, err := node.AwaitLeadership(ctx, ln)
		// serve listens on the address again: a connection in the
		// moment between is refused and the client reconnects.
		ln.Close()
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		leader.Store(l)
		jobs, next := l.Restored()
		b.Restore(jobs, next-1)
		return nil
	}
	return started, node.Close, nil
}
