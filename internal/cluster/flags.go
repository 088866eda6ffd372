package cluster

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Flags are cluster mode's command-line flags of `reprieve serve`
// (docs/cluster.md), kept here so that the command only wires them.
type Flags struct {
	Name, Node, Advertise, Listen, Peers string
	NATSURL, Creds, Token                string
	TLSCA, TLSCert, TLSKey               string
	Sync                                 string
	cfg                                  Config
}

// Register adds the --cluster-* and --nats-* flags and --replicas to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.cfg = DefaultConfig()
	fs.StringVar(&f.Name, "cluster-name", "", "turn cluster mode on: the `name` every node of the cluster shares (docs/cluster.md)")
	fs.StringVar(&f.Node, "cluster-node", "", "this node's `name`, unique in the cluster (default: the host name)")
	fs.StringVar(&f.Advertise, "cluster-advertise", "", "the `address` other nodes proxy clients to while this node leads (default: --listen)")
	fs.StringVar(&f.Listen, "cluster-listen", "", "embedded NATS: this node's route `address` (HOST:PORT)")
	fs.StringVar(&f.Peers, "cluster-peers", "", "embedded NATS: the other nodes' route `addresses`, comma-separated")
	fs.IntVar(&f.cfg.Replicas, "replicas", f.cfg.Replicas, "cluster mode: replicas of the stream, 1, 3 or 5 (the same on every node)")
	fs.DurationVar(&f.cfg.Lease, "cluster-lease", f.cfg.Lease, "cluster mode: the leader's lease; a dead leader is replaced after about this long")
	fs.DurationVar(&f.cfg.StartTimeout, "cluster-start-timeout", f.cfg.StartTimeout, "cluster mode: how long to wait at start for NATS and JetStream")
	fs.StringVar(&f.Sync, "cluster-sync", "interval", "embedded NATS: `always` fsyncs every write before it is acknowledged; interval leaves it to JetStream")
	fs.StringVar(&f.NATSURL, "nats-url", "", "cluster mode on an existing NATS: its `URL`s, comma-separated, instead of an embedded server")
	fs.StringVar(&f.Creds, "nats-creds", "", "--nats-url: a NATS credentials `file`")
	fs.StringVar(&f.Token, "nats-token", "", "--nats-url: a NATS `token`")
	fs.StringVar(&f.TLSCA, "nats-tls-ca", "", "--nats-url: PEM `file` of the CAs that sign NATS's certificate")
	fs.StringVar(&f.TLSCert, "nats-tls-cert", "", "--nats-url: PEM client certificate `file`")
	fs.StringVar(&f.TLSKey, "nats-tls-key", "", "--nats-url: PEM client key `file`")
}

// Enabled reports whether cluster mode was asked for.
func (f *Flags) Enabled() bool { return f.Name != "" }

// Config turns the flags into a validated Config; listen is the job
// port's address (the default advertised address) and dataDir the
// server's data directory (the embedded JetStream store goes in
// dataDir/nats).
func (f *Flags) Config(listen, dataDir string) (Config, error) {
	c := f.cfg
	c.Name, c.Node, c.Advertise = f.Name, f.Node, f.Advertise
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("%w: no --cluster-node and no host name: %w", ErrConfig, err)
		}
		c.Node = strings.Map(func(r rune) rune {
			if nameRE.MatchString(string(r)) {
				return r
			}
			return '-'
		}, h)
	}
	if c.Advertise == "" {
		c.Advertise = listen
	}
	c.Listen = f.Listen
	for _, p := range strings.Split(f.Peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.Peers = append(c.Peers, p)
		}
	}
	c.NATSURL, c.Creds, c.Token = f.NATSURL, f.Creds, f.Token
	c.TLSCA, c.TLSCert, c.TLSKey = f.TLSCA, f.TLSCert, f.TLSKey
	switch f.Sync {
	case "always":
		c.SyncAlways = true
	case "interval":
	default:
		return c, fmt.Errorf("%w: --cluster-sync %q: want always or interval", ErrConfig, f.Sync)
	}
	if c.NATSURL == "" {
		if dataDir == "" {
			return c, fmt.Errorf("%w: embedded NATS needs a data directory: set --data", ErrConfig)
		}
		c.StoreDir = filepath.Join(dataDir, "nats")
	}
	return c, c.Validate()
}
