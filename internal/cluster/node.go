package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reprieve/reprieve/internal/clock"
)

// Errors of a node's life.
var (
	// ErrDuplicateNode: another running node has this node's name.
	ErrDuplicateNode = errors.New("cluster: duplicate node name")
	// ErrMismatch: the stream or bucket exists with settings this node
	// does not share (replicas, lease).
	ErrMismatch = errors.New("cluster: settings differ from the cluster's")
	// ErrUnavailable: NATS or JetStream could not be reached in time.
	ErrUnavailable = errors.New("cluster: NATS unavailable")
	// ErrNotLeader: a change was offered to a node that does not lead.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrDeposed: the leader lost its lease or was fenced out.
	ErrDeposed = errors.New("cluster: deposed")
	// ErrClosed: the node is closed.
	ErrClosed = errors.New("cluster: closed")
)

// Node is one member of a cluster: its NATS connection (and embedded
// server), its presence in the lease bucket, and its replica of the
// stream while it follows. Open starts it; Lead blocks until it leads;
// Close stops it.
type Node struct {
	cfg   Config
	names names
	log   *slog.Logger
	clk   clock.Clock    // times the lease (cfg.Clock)
	ns    *server.Server // embedded server; nil with an external NATS
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue

	instance string // random id of this process, in the presence key
	journal  *Journal
	replica  *replica

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	// wg counts the goroutines the node owns: presence, the replica's
	// reader, the leader's lease keeper and id marker, a guard's closer;
	// Close waits. Once Open has returned, wg.Add is called only through
	// add, so that no goroutine starts while Close waits.
	wg sync.WaitGroup

	// mu protects leader and closing.
	mu      sync.Mutex
	leader  *Leader
	closing bool // Close has begun: add refuses
}

// add counts a goroutine about to start in wg and reports true, or
// reports false once Close has begun (the goroutine must not start).
func (n *Node) add() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false
	}
	n.wg.Add(1)
	return true
}

// Open starts a node: the embedded NATS server (unless cfg.NATSURL is
// set), the connection, the stream and the lease bucket (created if
// absent, checked if present), the node's presence key, and the reader
// that keeps its replica of the stream. It blocks up to cfg.StartTimeout
// for NATS and JetStream. Errors wrap ErrConfig, ErrUnavailable,
// ErrMismatch or ErrDuplicateNode.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("cluster", cfg.Name, "node", cfg.Node)
	var id [8]byte
	_, _ = rand.Read(id[:])
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real()
	}
	n := &Node{cfg: cfg, names: namesFor(cfg.Name), log: log, clk: clk, instance: hex.EncodeToString(id[:])}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	deadline := time.Now().Add(cfg.StartTimeout)
	if cfg.NATSURL == "" {
		ns, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, err
		}
		n.ns = ns
	}
	if err := n.connect(deadline); err != nil {
		return nil, err
	}
	if err := n.ensure(deadline); err != nil {
		return nil, err
	}
	if err := n.register(deadline); err != nil {
		return nil, err
	}
	n.journal = newJournal(n)
	n.replica = newReplica(n)
	n.wg.Add(2)
	go n.keepPresence()
	go n.replica.run()
	ok = true
	return n, nil
}

// Journal returns the node's journal: the engine's Journal once the node
// leads, refusing every change (ErrNotLeader) before.
func (n *Node) Journal() *Journal { return n.journal }

// Config returns the node's configuration, defaults applied.
func (n *Node) Config() Config { return n.cfg }

// ackTimeout bounds the wait for JetStream's acknowledgement of a
// publish; past it the leader steps down (the outcome is unknown).
const ackTimeout = 30 * time.Second

// connect dials NATS (in-process for the embedded server), retrying an
// unreachable server until deadline; wrong credentials fail at once.
func (n *Node) connect(deadline time.Time) error {
	opts := []nats.Option{
		nats.Name("reprieve " + n.cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.Timeout(2 * time.Second),
	}
	url := n.cfg.NATSURL
	shown := redactURLs(url) // for messages: no password
	if n.ns != nil {
		opts = append(opts, nats.InProcessServer(n.ns))
	} else {
		if n.cfg.Creds != "" {
			opts = append(opts, nats.UserCredentials(n.cfg.Creds))
		}
		if n.cfg.Token != "" {
			opts = append(opts, nats.Token(n.cfg.Token))
		}
		if n.cfg.TLSCA != "" {
			opts = append(opts, nats.RootCAs(n.cfg.TLSCA))
		}
		if n.cfg.TLSCert != "" || n.cfg.TLSKey != "" {
			opts = append(opts, nats.ClientCert(n.cfg.TLSCert, n.cfg.TLSKey))
		}
	}
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			n.nc = nc
			break
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) || strings.Contains(err.Error(), "Authorization") {
			return fmt.Errorf("%w: connect to NATS at %s: %w (check --nats-creds, --nats-token or the URL's user and password)", ErrUnavailable, shown, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: connect to NATS at %s: %w (is NATS running there? check --nats-url)", ErrUnavailable, shown, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	js, err := jetstream.New(n.nc,
		jetstream.WithPublishAsyncMaxPending(1<<16),
		// A JetStream election after a node died takes seconds; a
		// change waits for it rather than failing.
		jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	n.js = js
	return nil
}

// redactURLs returns a comma-separated list of NATS URLs with their
// passwords replaced by xxxxx, for messages.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := neturl.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// streamConfig is the stream every node of the cluster must agree on.
func (n *Node) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              n.names.stream,
		Description:       "Reprieve cluster " + n.cfg.Name + ": one message per live job (internal/cluster/doc.go)",
		Subjects:          []string{n.names.prefix + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          n.cfg.Replicas,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		AllowMsgTTL:       true,
		// The leader writes its changes in atomic batches (doc.go).
		AllowAtomicPublish: true,
	}
}

// ensure creates the stream and the bucket, or checks that the existing
// ones have this node's replica count and lease, retrying while JetStream
// is not ready (its peers are starting) until deadline.
func (n *Node) ensure(deadline time.Time) error {
	var last error
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		last = n.ensureOnce(ctx)
		cancel()
		if last == nil || errors.Is(last, ErrMismatch) {
			return last
		}
		if time.Now().After(deadline) {
			hint := "is JetStream enabled for this account?"
			if n.ns != nil {
				hint = "a majority of the --cluster-peers must be running"
			}
			return fmt.Errorf("%w: JetStream is not ready after %v (%s): %w", ErrUnavailable, n.cfg.StartTimeout, hint, last)
		}
		n.log.Debug("waiting for JetStream", "err", last)
		time.Sleep(250 * time.Millisecond)
	}
}

func (n *Node) ensureOnce(ctx context.Context) error {
	st, err := n.js.Stream(ctx, n.names.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = n.js.CreateStream(ctx, n.streamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = n.js.Stream(ctx, n.names.stream)
		}
	}
	if err != nil {
		return err
	}
	if r := st.CachedInfo().Config.Replicas; r != n.cfg.Replicas {
		return fmt.Errorf("%w: stream %s has %d replicas but --replicas is %d: every node must use the same --replicas", ErrMismatch, n.names.stream, r, n.cfg.Replicas)
	}
	if !st.CachedInfo().Config.AllowAtomicPublish {
		// A stream created before the leader wrote atomic batches.
		if _, err := n.js.UpdateStream(ctx, n.streamConfig()); err != nil {
			return err
		}
	}
	kv, err := n.js.KeyValue(ctx, n.names.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = n.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      n.names.bucket,
			Description: "Reprieve cluster " + n.cfg.Name + ": leader lease and node presence",
			TTL:         n.cfg.Lease,
			// File storage: a memory replica restarts empty, and a
			// bucket whose other replica dies meanwhile can be left
			// without a leader.
			Storage:  jetstream.FileStorage,
			Replicas: n.cfg.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = n.js.KeyValue(ctx, n.names.bucket)
		}
	}
	if err != nil {
		return err
	}
	kst, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	if kst.TTL() != n.cfg.Lease {
		return fmt.Errorf("%w: bucket %s keeps leases for %v but --cluster-lease is %v: every node must use the same --cluster-lease", ErrMismatch, n.names.bucket, kst.TTL(), n.cfg.Lease)
	}
	n.kv = kv
	return nil
}

func (n *Node) presenceKey() string { return "node." + n.cfg.Node }

// register creates the node's presence key. A key left by this node's
// previous process expires within a lease; one that is still renewed
// after a lease and a half belongs to a running node with the same name.
// A key holding this process's own value was stored by a Create of ours
// that timed out (a loaded machine, a JetStream election): it is ours.
func (n *Node) register(deadline time.Time) error {
	val := []byte(n.instance + " " + n.clk.Now().UTC().Format(time.RFC3339))
	giveUp := n.clk.Now().Add(n.cfg.Lease * 3 / 2)
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		_, err := n.kv.Create(ctx, n.presenceKey(), val)
		var seen []byte
		if errors.Is(err, jetstream.ErrKeyExists) {
			if e, gerr := n.kv.Get(ctx, n.presenceKey()); gerr == nil {
				seen = e.Value()
			}
		}
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrKeyExists) && bytes.Equal(seen, val):
			// An earlier Create of ours timed out here but was stored:
			// the key is this process's (val names it), not another
			// node's.
			return nil
		case errors.Is(err, jetstream.ErrKeyExists):
			if n.clk.Now().After(giveUp) {
				since := ""
				if _, at, ok := strings.Cut(string(seen), " "); ok {
					since = " (since " + at + ")"
				}
				return fmt.Errorf("%w: another node named %s is running in cluster %s%s; give each node its own --cluster-node", ErrDuplicateNode, n.cfg.Node, n.cfg.Name, since)
			}
		case time.Now().After(deadline):
			return fmt.Errorf("%w: register node %s: %w", ErrUnavailable, n.cfg.Node, err)
		}
		if !n.sleep(n.ctx, n.cfg.Lease/8) {
			return fmt.Errorf("%w: register node %s", ErrClosed, n.cfg.Node)
		}
	}
}

// sleep waits d on the node's clock and reports true, or false as soon as
// ctx ends.
func (n *Node) sleep(ctx context.Context, d time.Duration) bool {
	ch, stop := n.after(d)
	defer stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// keepPresence rewrites the presence key every quarter lease of the
// node's clock until Close, the next write due a quarter lease after the
// previous one was sent.
func (n *Node) keepPresence() {
	defer n.wg.Done()
	val := []byte(n.instance + " " + n.clk.Now().UTC().Format(time.RFC3339))
	next, stop := n.after(n.cfg.Lease / 4)
	for {
		select {
		case <-n.ctx.Done():
			stop()
			return
		case <-next:
		}
		next, stop = n.after(n.cfg.Lease / 4)
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Lease/2)
		if _, err := n.kv.Put(ctx, n.presenceKey(), val); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cluster: cannot renew this node's presence", "err", err)
		}
		cancel()
	}
}

// Close steps down if leading, stops the node's goroutines, deletes its
// presence key, and closes the connection and the embedded server. It
// returns once all of them have stopped.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closing = true
	l := n.leader
	n.mu.Unlock()
	if l != nil {
		l.stepDown(ErrClosed)
	}
	if n.kv != nil && n.nc != nil && n.nc.IsConnected() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = n.kv.Delete(ctx, n.presenceKey())
		if l != nil {
			_ = n.kv.Delete(ctx, leaderKey, jetstream.LastRevision(l.rev.Load()))
		}
		cancel()
	}
	n.cancel()
	n.wg.Wait()
	if n.nc != nil {
		n.nc.Close()
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
	return nil
}
