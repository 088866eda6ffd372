package cluster

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// Config configures one node of a cluster. Defaults are set by
// DefaultConfig; Validate says what cannot work.
type Config struct {
	// Name is the cluster's name; every node of one cluster has the same.
	// It names the stream (REPRIEVE_<Name>) and the lease bucket.
	Name string
	// Node is this node's name, unique in the cluster.
	Node string
	// Advertise is the address the other nodes' proxies dial to reach
	// this node's clients' port while it leads.
	Advertise string

	// Listen is the embedded NATS server's route address (HOST:PORT);
	// Peers the other nodes' route addresses. Used when NATSURL is empty.
	Listen string
	Peers  []string
	// StoreDir is the embedded NATS server's JetStream directory.
	StoreDir string
	// SyncAlways makes the embedded JetStream fsync every write before it
	// acknowledges it; false leaves JetStream's interval (2 minutes).
	SyncAlways bool

	// NATSURL, if set, is an existing NATS cluster's URL (or URLs,
	// comma-separated) to use instead of an embedded server.
	NATSURL string
	// Creds is a NATS .creds file; Token a NATS token (NATSURL only).
	Creds, Token string
	// TLSCA, TLSCert and TLSKey are PEM files for TLS to NATSURL.
	TLSCA, TLSCert, TLSKey string

	// Replicas is the stream's replica count: 1, 3 or 5.
	Replicas int
	// Lease is how long the leader's lease lasts without renewal; a dead
	// leader is replaced after about this long.
	Lease time.Duration
	// StartTimeout bounds the wait for NATS and JetStream at start.
	StartTimeout time.Duration
	// TombstoneTTL is how long a delete's tombstone stays in the stream.
	TombstoneTTL time.Duration

	// Logger receives the node's log lines; default slog.Default().
	Logger *slog.Logger
	// Clock times the lease: its renewals, the leader's validity and a
	// follower's attempts to take it; default clock.Real(). Tests set a
	// fake one. The bucket's expiry is JetStream's and runs on real time.
	Clock clock.Clock
}

// DefaultConfig returns a Config with every default set; Name, Node and
// either NATSURL or Listen and Peers remain to be filled in.
func DefaultConfig() Config {
	return Config{
		Replicas:     3,
		Lease:        4 * time.Second,
		StartTimeout: time.Minute,
		TombstoneTTL: 10 * time.Minute,
	}
}

// ErrConfig marks a configuration that cannot work.
var ErrConfig = errors.New("cluster: bad configuration")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate reports the first setting that cannot work, saying how to fix
// it; the error wraps ErrConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(c.Name) {
		return bad("cluster name %q: want 1 to 64 letters, digits, '-' or '_'", c.Name)
	}
	if !nameRE.MatchString(c.Node) {
		return bad("node name %q: want 1 to 64 letters, digits, '-' or '_'", c.Node)
	}
	if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
		return bad("advertised address %q: want HOST:PORT that the other nodes can dial", c.Advertise)
	}
	switch c.Replicas {
	case 1, 3, 5:
	default:
		return bad("replicas %d: want 1, 3 or 5", c.Replicas)
	}
	if c.Lease < 500*time.Millisecond {
		return bad("lease %v: want at least 500ms", c.Lease)
	}
	if c.StartTimeout <= 0 {
		return bad("start timeout %v: want a positive duration", c.StartTimeout)
	}
	if c.TombstoneTTL < 4*c.Lease {
		return bad("tombstone TTL %v: want at least four leases (%v)", c.TombstoneTTL, 4*c.Lease)
	}
	if c.NATSURL != "" {
		if c.Listen != "" || len(c.Peers) > 0 {
			return bad("an external NATS URL and an embedded server's listen address or peers: choose one")
		}
		return nil
	}
	if c.Creds != "" || c.Token != "" || c.TLSCA != "" || c.TLSCert != "" || c.TLSKey != "" {
		return bad("NATS credentials and TLS files apply to an external NATS URL only")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("route listen address %q: want HOST:PORT", c.Listen)
	}
	for _, p := range c.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return bad("peer %q: want HOST:PORT of another node's route port", p)
		}
	}
	if c.Replicas > len(c.Peers)+1 {
		return bad("replicas %d with %d nodes (this one and %d peers): want at least as many nodes as replicas", c.Replicas, len(c.Peers)+1, len(c.Peers))
	}
	if c.StoreDir == "" {
		return bad("no JetStream directory for the embedded server: set the data directory")
	}
	return nil
}

// names derives what the cluster keeps in NATS from its name.
type names struct {
	stream, bucket string
	prefix         string // "reprieve.<name>."
}

func namesFor(cluster string) names {
	return names{
		stream: "REPRIEVE_" + cluster,
		bucket: "REPRIEVE_" + cluster + "_LEASE",
		prefix: "reprieve." + cluster + ".",
	}
}

func (n names) jobSubject(id uint64) string {
	return n.prefix + "job." + strconv.FormatUint(id, 10)
}
func (n names) termSubject() string { return n.prefix + "term" }
func (n names) idsSubject() string  { return n.prefix + "ids" }

// tickSubject is a schedule's tick subject: its name in hexadecimal, so
// that any name is one subject token.
func (n names) tickSubject(schedule string) string {
	return n.prefix + "tick." + hex.EncodeToString([]byte(schedule))
}
