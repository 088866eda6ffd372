package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/cluster"
	jobport "github.com/reprieve/reprieve/internal/server"
)

// ClusterConfig turns on cluster mode (docs/cluster.md): the jobs are
// kept in a NATS JetStream stream replicated over the nodes, one node
// leads and serves, the others proxy their clients to it until they
// lead. Off unless Name is set; every other field then has a default.
type ClusterConfig struct {
	// Name is the cluster's name, shared by its nodes (1 to 64 letters,
	// digits, '-' or '_'); "" leaves cluster mode off.
	Name string
	// Node is this node's name, unique in the cluster; "" takes the host
	// name.
	Node string
	// Advertise is the address the other nodes proxy clients to while
	// this node leads, and the stats key cluster-leader-addr that
	// client.Pool follows; "" takes the job port's address (Listen, its
	// port resolved when it is 0).
	Advertise string
	// RouteListen is the embedded NATS server's route address, HOST:PORT;
	// Peers are the other nodes' route addresses. The embedded server
	// keeps its store in DataDir/nats, so DataDir is required; no durable
	// log is opened in cluster mode (the stream is the log).
	RouteListen string
	Peers       []string
	// Sync is "always" (the embedded JetStream fsyncs every write before
	// it is acknowledged) or "interval" (JetStream's own). Default
	// "interval".
	Sync string
	// NATSURL, if set, is an existing NATS cluster's URL (or URLs,
	// comma-separated), used instead of an embedded server.
	NATSURL string
	// NATSCreds is a NATS credentials file; NATSToken a NATS token;
	// NATSTLSCA, NATSTLSCert and NATSTLSKey PEM files for TLS to NATSURL.
	// NATSURL only.
	NATSCreds, NATSToken               string
	NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// Replicas is the stream's replica count: 1, 3 or 5, the same on
	// every node. Default 3.
	Replicas int
	// Lease is how long the leader's lease lasts unrenewed; a dead leader
	// is replaced after about this long. At least 500ms; default 4s.
	Lease time.Duration
	// StartTimeout bounds the wait for NATS and JetStream in New.
	// Default 1m.
	StartTimeout time.Duration
}

// ErrDeposed is wrapped by Serve's error when this node stopped leading
// its cluster (another node took over, or its lease could not be
// renewed): every connection was closed; start the server again to
// follow the new leader.
var ErrDeposed = errors.New("server: this node no longer leads its cluster")

// errShutdown ends the follower phase when Shutdown is called.
var errShutdown = errors.New("server: shut down")

// defaultClusterConfig is ClusterConfig's defaults, Name unset.
func defaultClusterConfig() ClusterConfig {
	d := cluster.DefaultConfig()
	return ClusterConfig{Sync: "interval", Replicas: d.Replicas, Lease: d.Lease, StartTimeout: d.StartTimeout}
}

// clusterConfig is the node's configuration for c, checked.
func (c Config) clusterConfig() (cluster.Config, error) {
	k := c.Cluster
	cc := cluster.DefaultConfig()
	cc.Name, cc.Node, cc.Advertise = k.Name, k.Node, k.Advertise
	if cc.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return cc, fmt.Errorf("%w: Cluster.Node is empty and the host has no name: %w", ErrConfig, err)
		}
		cc.Node = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
				return r
			}
			return '-'
		}, h)
	}
	if cc.Advertise == "" {
		cc.Advertise = c.Listen
	}
	cc.Listen, cc.Peers = k.RouteListen, k.Peers
	cc.NATSURL, cc.Creds, cc.Token = k.NATSURL, k.NATSCreds, k.NATSToken
	cc.TLSCA, cc.TLSCert, cc.TLSKey = k.NATSTLSCA, k.NATSTLSCert, k.NATSTLSKey
	cc.Replicas, cc.Lease, cc.StartTimeout = k.Replicas, k.Lease, k.StartTimeout
	switch k.Sync {
	case "always":
		cc.SyncAlways = true
	case "interval", "":
	default:
		return cc, fmt.Errorf("%w: Cluster.Sync %q: want always or interval", ErrConfig, k.Sync)
	}
	if cc.NATSURL == "" {
		if c.DataDir == "" {
			return cc, fmt.Errorf("%w: cluster mode with an embedded NATS server keeps its store in DataDir/nats: set DataDir", ErrConfig)
		}
		cc.StoreDir = filepath.Join(c.DataDir, "nats")
	}
	if err := cc.Validate(); err != nil {
		return cc, fmt.Errorf("%w: Cluster: %w", ErrConfig, err)
	}
	return cc, nil
}

// validateCluster checks the cluster section: all of it when Name is
// set, that nothing but defaults is set otherwise.
func (c Config) validateCluster() error {
	k := c.Cluster
	if k.Name != "" {
		_, err := c.clusterConfig()
		return err
	}
	if k.Node != "" || k.Advertise != "" || k.RouteListen != "" || len(k.Peers) > 0 || k.NATSURL != "" ||
		k.NATSCreds != "" || k.NATSToken != "" || k.NATSTLSCA != "" || k.NATSTLSCert != "" || k.NATSTLSKey != "" {
		return fmt.Errorf("%w: Cluster settings need Cluster.Name: cluster mode is off without it", ErrConfig)
	}
	return nil
}

// openNode opens the cluster node and makes its journal the engine's and
// its leader's figures the cluster-* stats keys.
func (s *Server) openNode(bc *broker.Config, sc *jobport.Config) error {
	// Every change waits for the stream's acknowledgement, a network
	// round trip: on the event loop it would hold up every connection.
	sc.Goroutines = true
	cc, err := s.cfg.clusterConfig()
	if err != nil {
		return err
	}
	cc.Logger = s.log
	if s.cfg.Cluster.Advertise == "" {
		cc.Advertise = s.ln.Addr().String()
	}
	if cc.StoreDir != "" {
		if err := os.MkdirAll(cc.StoreDir, 0o755); err != nil {
			return &SettingError{Setting: "DataDir", Err: err}
		}
	}
	s.log.Info("cluster: starting", "cluster", cc.Name, "node", cc.Node, "replicas", cc.Replicas, "nats", cc.NATSURL, "routes", cc.Listen, "peers", cc.Peers)
	if s.node, err = cluster.Open(cc); err != nil {
		return &SettingError{Setting: "Cluster", Err: err}
	}
	bc.Journal = s.node.Journal()
	sc.ExtraStats = func() []beanstalk.KeyValue {
		if l := s.leader.Load(); l != nil {
			return keyValues(l.Stats().StatsKeys())
		}
		return keyValues(s.node.FollowerStats().StatsKeys())
	}
	return nil
}

// follow proxies the job port's connections to the cluster's leader until
// this node leads, then restores the engine from the stream and returns
// the job port's listener, guarded by the lease, and the channel closed
// when the node steps down. Shutdown ends it (stopFollow); an error
// leaves the listener closed.
func (s *Server) follow(ctx context.Context) (net.Listener, <-chan struct{}, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.stopFollow = func() { cancel(errShutdown) }
	s.mu.Unlock()
	defer close(s.followed)
	s.log.Info("cluster: following; clients are proxied to the leader", "addr", s.Addr())
	l, err := s.node.AwaitLeadership(ctx, s.ln)
	if err != nil {
		s.ln.Close()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, fmt.Errorf("server: cluster: %w", err)
	}
	jobs, next := l.Restored()
	s.b.Restore(jobs, next)
	s.b.RestoreTicks(l.Ticks())
	s.leader.Store(l)
	close(s.leading)
	s.log.Info("cluster: leading", "term", l.Term(), "jobs", len(jobs), "next_id", next)
	return l.Guard(s.ln), l.Done(), nil
}

// stopFollowing ends a follower phase in progress and waits for it.
func (s *Server) stopFollowing() {
	s.mu.Lock()
	stop := s.stopFollow
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-s.followed
	}
}

// deposedError says why the node stopped leading.
func (s *Server) deposedError() error {
	return fmt.Errorf("%w: %w", ErrDeposed, s.leader.Load().Err())
}

// keyValues turns stats keys into the job port's extra stats.
func keyValues(keys [][2]string) []beanstalk.KeyValue {
	kv := make([]beanstalk.KeyValue, len(keys))
	for i, k := range keys {
		kv[i] = beanstalk.KeyValue{Key: k[0], Value: k[1]}
	}
	return kv
}
