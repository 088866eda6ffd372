package main

import (
	"flag"
	"strings"

	"github.com/reprieve/reprieve/server"
)

// clusterFlags are cluster mode's flags of `reprieve serve`
// (docs/cluster.md); each sets one field of server.ClusterConfig, which
// checks them.
type clusterFlags struct {
	cfg   server.ClusterConfig
	peers string // --cluster-peers, comma-separated
}

// register adds the --cluster-* and --nats-* flags and --replicas to fs.
func (f *clusterFlags) register(fs *flag.FlagSet) {
	f.cfg = server.DefaultConfig().Cluster
	c := &f.cfg
	fs.StringVar(&c.Name, "cluster-name", "", "turn cluster mode on: the `name` every node of the cluster shares (docs/cluster.md)")
	fs.StringVar(&c.Node, "cluster-node", "", "this node's `name`, unique in the cluster (default: the host name)")
	fs.StringVar(&c.Advertise, "cluster-advertise", "", "the `address` other nodes proxy clients to while this node leads (default: --listen)")
	fs.StringVar(&c.RouteListen, "cluster-listen", "", "embedded NATS: this node's route `address` (HOST:PORT)")
	fs.StringVar(&f.peers, "cluster-peers", "", "embedded NATS: the other nodes' route `addresses`, comma-separated")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "cluster mode: replicas of the stream, 1, 3 or 5 (the same on every node)")
	fs.DurationVar(&c.Lease, "cluster-lease", c.Lease, "cluster mode: the leader's lease; a dead leader is replaced after about this long")
	fs.DurationVar(&c.StartTimeout, "cluster-start-timeout", c.StartTimeout, "cluster mode: how long to wait at start for NATS and JetStream")
	fs.StringVar(&c.Sync, "cluster-sync", c.Sync, "embedded NATS: `always` fsyncs every write before it is acknowledged; interval leaves it to JetStream")
	fs.StringVar(&c.NATSURL, "nats-url", "", "cluster mode on an existing NATS: its `URL`s, comma-separated, instead of an embedded server")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "--nats-url: a NATS credentials `file`")
	fs.StringVar(&c.NATSToken, "nats-token", "", "--nats-url: a NATS `token`")
	fs.StringVar(&c.NATSTLSCA, "nats-tls-ca", "", "--nats-url: PEM `file` of the CAs that sign NATS's certificate")
	fs.StringVar(&c.NATSTLSCert, "nats-tls-cert", "", "--nats-url: PEM client certificate `file`")
	fs.StringVar(&c.NATSTLSKey, "nats-tls-key", "", "--nats-url: PEM client key `file`")
}

// apply sets the cluster section of sc (server.Config.Validate checks it).
func (f *clusterFlags) apply(sc *server.Config) {
	sc.Cluster = f.cfg
	sc.Cluster.Peers = nil
	for _, p := range strings.Split(f.peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			sc.Cluster.Peers = append(sc.Cluster.Peers, p)
		}
	}
}
