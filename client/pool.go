package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/testhook"
)

// PoolConfig configures a Pool. The zero value of each field but Addrs
// means its default.
type PoolConfig struct {
	// Addrs are the servers, host:port each; at least one. With Cluster
	// they are the nodes of one Reprieve cluster.
	Addrs []string
	// Cluster says that Addrs are the nodes of one Reprieve cluster
	// (docs/cluster.md), not independent servers: the pool then treats
	// them as one server that lives at the cluster's leader. It connects
	// to the leader directly (learned from the stats key
	// cluster-leader-addr of any node) rather than through a follower's
	// proxy, follows it when it changes, and never re-sends a put that
	// was sent: see the package documentation, "A cluster".
	Cluster bool
	// MaxInFlight bounds the puts in flight to one server, like ZeroMQ's
	// high-water mark: a put waits for a free slot on some live server
	// rather than queue behind a slow one. Default 64.
	MaxInFlight int
	// PutTimeout is how long a put may wait for its answer before the
	// server is taken for dead and the put is re-sent to another one.
	// Default 5s.
	PutTimeout time.Duration
	// DialTimeout bounds each connection attempt. Default 2s.
	DialTimeout time.Duration
	// RedialMin and RedialMax bound the backoff between attempts to
	// reconnect to a dead server: it starts at RedialMin, doubles per
	// failed attempt up to RedialMax, with up to 20% added at random.
	// Defaults 100ms and 10s.
	RedialMin, RedialMax time.Duration
	// MaxIdleReservers is how many idle reserving connections are kept per
	// server between reserves. Default 4.
	MaxIdleReservers int
	// ReserveSlice is how long one wait of Reserve may block a server: a
	// waiting Reserve sends claim (or reserve-with-timeout) of this many seconds
	// (rounded up, at least 1) to every live server at once, and again
	// when it ends, keeping the connections. It bounds how long a wait the
	// caller gave up on keeps a server's connection busy. Default 1s.
	ReserveSlice time.Duration
	// SpareHold bounds how long a job that a wait reserved after its
	// Reserve had been served (two servers answered in the same slice) is
	// kept for the next Reserve on the same tubes before it is released
	// with its priority; it is released sooner if half its TTR, or all but
	// 2×DeadlineMargin of it, would pass first. Negative releases such jobs
	// at once. Default 5s.
	SpareHold time.Duration
	// Dial opens one connection; default Dial.
	Dial func(ctx context.Context, addr string) (*Conn, error)

	// clock times put timeouts, dial timeouts, redial backoff, Reserve's
	// timeout, spare jobs and DEADLINE_SOON; the wall clock unless the
	// package's tests set a fake one.
	clock clock.Clock
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg PoolConfig) withDefaults() PoolConfig {
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.PutTimeout == 0 {
		cfg.PutTimeout = 5 * time.Second
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.RedialMin == 0 {
		cfg.RedialMin = 100 * time.Millisecond
	}
	if cfg.RedialMax == 0 {
		cfg.RedialMax = 10 * time.Second
	}
	if cfg.MaxIdleReservers == 0 {
		cfg.MaxIdleReservers = 4
	}
	if cfg.ReserveSlice == 0 {
		cfg.ReserveSlice = time.Second
	}
	if cfg.SpareHold == 0 {
		cfg.SpareHold = 5 * time.Second
	}
	if cfg.clock == nil {
		cfg.clock = clock.Real()
	}
	if cfg.Dial == nil {
		cfg.Dial = Dial
	}
	return cfg
}

// Validate reports the first field that makes no sense.
func (cfg PoolConfig) Validate() error {
	if len(cfg.Addrs) == 0 {
		return errors.New("client: pool config: Addrs is empty; give at least one host:port")
	}
	seen := map[string]bool{}
	for _, a := range cfg.Addrs {
		if a == "" || seen[a] {
			return fmt.Errorf("client: pool config: address %q is empty or given twice", a)
		}
		seen[a] = true
	}
	switch {
	case cfg.MaxInFlight < 0, cfg.MaxIdleReservers < 0:
		return errors.New("client: pool config: MaxInFlight and MaxIdleReservers must not be negative")
	case cfg.PutTimeout < 0, cfg.DialTimeout < 0, cfg.RedialMin < 0, cfg.RedialMax < 0, cfg.ReserveSlice < 0:
		return errors.New("client: pool config: durations must not be negative")
	case cfg.RedialMax != 0 && cfg.RedialMin > cfg.RedialMax:
		return fmt.Errorf("client: pool config: RedialMin %v exceeds RedialMax %v", cfg.RedialMin, cfg.RedialMax)
	}
	return nil
}

// Pool spreads work over several servers (seed 004's brokerless fan-out):
// puts go round robin to the live servers, a dead server is skipped at once
// and re-dialed in the background, a put that times out is re-sent to
// another server, and Reserve takes the first job any server hands out.
// It is safe for concurrent use.
//
// Towards the servers a Pool behaves as one beanstalkd client would: the
// jobs reserved through it and not yet finished are its reservations, and
// Reserve reports DEADLINE_SOON for them whichever goroutine holds them.
// Workers that want reports of their own jobs only use a Pool each.
//
// Delivery is at least once: a put whose server died or timed out before
// answering may have been stored there, and the re-sent copy makes two
// (the package documentation says exactly when). Consumers should
// tolerate duplicates (make jobs idempotent, or carry a key in the body).
// Job ids are per server; a JobRef or Handle names both.
//
// Work in flight per server is bounded for puts by MaxInFlight. Reserving
// uses on each server one connection per Reserve waiting at the same
// moment (Reserves on the same tubes one after another share it), one per
// Handle held, and holds at most one spare job per such connection.
//
// Lock order: server.mu before Pool.mu; Handle.mu is taken alone.
type Pool struct {
	cfg      PoolConfig
	servers  []*server
	next     atomic.Uint64 // round-robin cursor for puts and reserves
	resends  atomic.Uint64 // puts re-sent to another server
	released atomic.Uint64 // spare jobs released

	lateDeleted atomic.Uint64 // copies of timed-out puts deleted after a late answer
	lateKept    atomic.Uint64 // copies of timed-out puts that answered late and stay

	slotFreed   notifier // a put slot freed or a server came back
	serverUp    notifier // a server came back
	liveChanged notifier // a server came back or was taken for dead
	held        notifier // a Handle was handed out or touched

	leader atomic.Pointer[string] // with Cluster: the address the leader was last reached at

	mu      sync.Mutex           // protects the fields below and calls of wg.Add
	closed  bool                 // Close has begun: no goroutine may start
	takers  map[string][]*taker  // waiting Reserve calls by tube set, oldest first
	slicing map[sliceKey]int     // waits in flight per server and tube set
	spares  map[string][]*spare  // jobs reserved with no Reserve to take them, by tube set, oldest first
	open    map[*Handle]struct{} // Handles handed out and not finished

	ctx    context.Context // ended by Close; stops redialers and waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // redialers, waits, spare releases
}

// NewPool connects to every server (at once, each bounded by DialTimeout)
// and returns the pool; servers that cannot be reached start dead and are
// re-dialed in the background. The only error is an invalid config.
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Pool{
		cfg:     cfg,
		takers:  map[string][]*taker{},
		slicing: map[sliceKey]int{},
		spares:  map[string][]*spare{},
		open:    map[*Handle]struct{}{},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	addrs := cfg.Addrs
	if cfg.Cluster {
		addrs = []string{clusterAddr(cfg.Addrs)}
	}
	for _, a := range addrs {
		p.servers = append(p.servers, &server{addr: a, slots: make(chan struct{}, cfg.MaxInFlight)})
	}
	// Start the rotation at random, so that many short-lived pools (one
	// per command) do not all load the first server.
	p.next.Store(rand.Uint64N(uint64(len(p.servers))))
	var wg sync.WaitGroup
	for _, s := range p.servers {
		wg.Go(func() {
			c, err := p.dial(ctx, s.addr)
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				p.startRedial(s)
				return
			}
			s.conn, s.live, s.liveSince = c, true, cfg.clock.Now()
		})
	}
	wg.Wait()
	return p, nil
}

// Close stops the redialers and the waits, closes every connection and
// returns when every goroutine of the pool has ended. Jobs reserved through
// the pool and not finished, and spare jobs, go back to their servers'
// ready queues. Closing twice is harmless.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, list := range p.spares {
		for _, sp := range list {
			sp.timer.Stop()
		}
	}
	p.spares = map[string][]*spare{}
	p.mu.Unlock()
	p.cancel() // ends the waits in flight: their connections close
	for _, s := range p.servers {
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.closeReservers()
		s.live = false
		s.mu.Unlock()
	}
	p.slotFreed.signal()
	p.serverUp.signal()
	p.liveChanged.signal()
	p.wg.Wait()
	return nil
}

// spawn runs f on a goroutine the pool owns and Close waits for; it
// reports false, and does not run f, once Close has begun.
func (p *Pool) spawn(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawnLocked(f)
}

// spawnLocked is spawn with p.mu held.
func (p *Pool) spawnLocked(f func()) bool {
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// PoolStats describes a Pool at one moment.
type PoolStats struct {
	Live, Dead int
	// Resends counts puts re-sent to another server after a failure.
	Resends uint64
	// Spares is how many jobs a wait reserved that no Reserve has taken
	// yet; SparesReleased counts those given back to their servers.
	Spares         int
	SparesReleased uint64
	// LateDeleted counts copies stored by a server that answered a put
	// after PutTimeout, deleted because the re-sent put was stored
	// elsewhere; LateKept counts those that stay (a worker had reserved
	// the copy, or the Put failed, so the copy is the only one).
	LateDeleted, LateKept uint64
	Servers               []ServerStats
	// Leader is, with Cluster, the address the pool last reached the
	// cluster's leader at: the leader's own address (its
	// cluster-leader-addr), or a node of Addrs whose proxy led there
	// when the leader's address could not be dialed; "" before the first
	// connection and without Cluster.
	Leader string
}

// ServerStats describes one server of a Pool.
type ServerStats struct {
	Addr     string
	Live     bool
	InFlight int    // puts waiting for their answer
	Puts     uint64 // puts it acknowledged
	Deaths   uint64 // times it was taken for dead
	Redials  uint64 // reconnection attempts
}

// Stats returns the pool's view of its servers, in the order of Addrs.
func (p *Pool) Stats() PoolStats {
	st := PoolStats{
		Resends:        p.resends.Load(),
		Spares:         p.spareCount(),
		SparesReleased: p.released.Load(),
		LateDeleted:    p.lateDeleted.Load(),
		LateKept:       p.lateKept.Load(),
	}
	if a := p.leader.Load(); a != nil {
		st.Leader = *a
	}
	for _, s := range p.servers {
		s.mu.Lock()
		ss := ServerStats{Addr: s.addr, Live: s.live, InFlight: len(s.slots), Puts: s.puts, Deaths: s.deaths, Redials: s.redials}
		s.mu.Unlock()
		if ss.Live {
			st.Live++
		} else {
			st.Dead++
		}
		st.Servers = append(st.Servers, ss)
	}
	return st
}

// notifier wakes every goroutine waiting for an event. The zero value is
// ready to use.
type notifier struct {
	mu sync.Mutex    // protects ch
	ch chan struct{} // closed and replaced at each signal
}

// signal wakes everyone holding a channel from wait.
func (n *notifier) signal() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// wait returns a channel closed at the next signal; take it before checking
// the condition waited for, so that no signal is missed.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// withTimeout is context.WithTimeout on the pool's clock; the returned
// cause is set when the timer fired.
func (p *Pool) withTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := p.cfg.clock.AfterFunc(d, func() { cancel(cause) })
	return ctx, func() { t.Stop(); cancel(nil) }
}

var errDialTimeout = errors.New("client: dial timed out")

func (p *Pool) dial(ctx context.Context, addr string) (*Conn, error) {
	if p.cfg.Cluster {
		return p.dialLeader(ctx)
	}
	dctx, done := p.withTimeout(ctx, p.cfg.DialTimeout, errDialTimeout)
	defer done()
	return p.cfg.Dial(dctx, addr)
}

func init() {
	testhook.SetPoolClock = func(cfg any, c clock.Clock) { cfg.(*PoolConfig).clock = c }
}
