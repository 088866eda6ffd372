// Package pipeline runs Wishbone-style event pipelines: modules are actors
// joined by bounded queues named in a routing table, and failure is routed
// like any other output. A module's Handle has no error handling: an error
// or a panic sends the message to the module's "failed" queue, annotated
// with the module, the error, the hop and attempt counts; the bootstrap
// file decides where failed messages go next (another output, a disk
// buffer, a retry module).
//
// Delivery is at least once: inputs with offsets (file, diskin, tube)
// acknowledge a record only when every copy of its message has left the
// pipeline (Message.OnDone), so after a crash they resume from the last
// acknowledged record and may repeat the ones that were in flight.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/supervise"
)

// Options configure a pipeline's runtime; the zero value is usable.
type Options struct {
	// Clock drives timers (generator interval, retry, supervisor backoff);
	// nil means clock.Real().
	Clock clock.Clock
	// Log receives structured logs; each module's carry module=NAME.
	Log *slog.Logger
	// DrainTimeout bounds how long shutdown waits for queues to empty
	// (default 10 s).
	DrainTimeout time.Duration
	// Observe, if set, sees every message emitted by a module (reprieve
	// test's assertions); see Observer.
	Observe Observer
}

// Pipeline is a built pipeline, ready to Run once.
type Pipeline struct {
	cfg    *Config
	clock  clock.Clock
	log    *slog.Logger
	drain  time.Duration
	nodes  []*node
	byName map[string]*node
	dead   *queue // the deadletter queue, or nil

	observer Observer // nil: none

	inflight atomic.Int64  // messages enqueued and not yet fully handled
	idle     chan struct{} // signalled when inflight drops to zero

	leftMu sync.Mutex // protects left
	left   []QueueRef // where each undelivered message was at shutdown
	leftID []string
}

// New builds every module of cfg and connects the queues. Nothing runs
// until Run.
func New(cfg *Config, opts Options) (*Pipeline, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	p := &Pipeline{cfg: cfg, clock: opts.Clock, log: opts.Log, drain: opts.DrainTimeout,
		byName: map[string]*node{}, idle: make(chan struct{}, 1), observer: opts.Observe}
	for _, mc := range cfg.Modules {
		n := &node{p: p, cfg: mc, kind: mc.Kind, inq: map[string]*queue{}, routes: map[string]*route{}}
		n.env = &Env{Name: mc.Name, Clock: opts.Clock, Log: opts.Log.With("module", mc.Name), node: n}
		n.failures = &failureLog{log: n.env.Log, clock: opts.Clock, every: FailureLogInterval}
		for _, q := range mc.Kind.In {
			n.inq[q] = newQueue(QueueRef{mc.Name, q}, mc.QueueSize, mc.Drop)
		}
		for _, q := range mc.Kind.OutQueues() {
			n.routes[q] = &route{}
		}
		p.nodes = append(p.nodes, n)
		p.byName[mc.Name] = n
	}
	inq := func(ref QueueRef) *queue {
		n := p.byName[ref.Module]
		q, ok := n.inq[ref.Queue]
		if !ok {
			q = newQueue(ref, n.cfg.QueueSize, n.cfg.Drop)
			n.inq[ref.Queue] = q
		}
		return q
	}
	for _, r := range cfg.Routes {
		from := p.byName[r.From.Module]
		rt, ok := from.routes[r.From.Queue]
		if !ok {
			rt = &route{}
			from.routes[r.From.Queue] = rt
		}
		rt.dst = inq(r.To)
	}
	if cfg.DeadLetter.Module != "" {
		p.dead = inq(cfg.DeadLetter)
	}
	for _, n := range p.nodes {
		mod, err := n.kind.New(n.env, n.cfg.Args)
		if err != nil {
			p.closeModules()
			return nil, fmt.Errorf("pipeline: module %q (%s): %w", n.cfg.Name, n.kind.Name, err)
		}
		n.mod = mod
	}
	return p, nil
}

// settle marks one in-flight message as finished.
func (p *Pipeline) settle() {
	if p.inflight.Add(-1) == 0 {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

// Run runs the pipeline until ctx is cancelled or a module exceeds its
// restart intensity. Shutdown then stops the modules' run loops (inputs
// first of all), lets the handlers drain the in-memory queues for up to
// DrainTimeout (so failed messages still reach durable modules), closes the
// modules (flushing buffers) and logs every message still in a queue. It
// returns nil after a cancellation, or the supervisor's error wrapping
// supervise.ErrIntensity.
func (p *Pipeline) Run(ctx context.Context) error {
	hctx, stopHandlers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, n := range p.nodes {
		if _, ok := n.mod.(Handler); !ok {
			continue
		}
		for name, q := range n.inq {
			for range max(1, n.cfg.Workers) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n.serveQueue(hctx, name, q)
				}()
			}
		}
	}
	sup := supervise.New(p.clock, p.log, func(ev supervise.Event) {
		if n, ok := p.byName[ev.Service]; ok {
			n.restarts.Add(1)
		}
	})
	for _, n := range p.nodes {
		r, ok := n.mod.(Runner)
		if !ok {
			continue
		}
		pol := supervise.DefaultPolicy()
		s := p.cfg.Supervisor
		pol.Backoff, pol.MaxBackoff, pol.FailureThreshold, pol.FailureDecay = s.Backoff, s.MaxBackoff, s.FailureThreshold, s.FailureDecay
		pol.KeepBackingOff = n.cfg.KeepBackingOff
		sup.Add(n.cfg.Name, supervise.Func(r.Run), pol)
	}
	p.log.Info("pipeline running", "file", p.cfg.File, "modules", len(p.nodes), "routes", len(p.cfg.Routes))
	supErr := sup.Serve(ctx)
	p.waitIdle()
	stopHandlers()
	wg.Wait()
	p.closeModules()
	p.reportLeft()
	if supErr != nil {
		return fmt.Errorf("pipeline: stopped: %w", supErr)
	}
	return nil
}

// waitIdle waits until no message is in flight or the drain timeout passes.
func (p *Pipeline) waitIdle() {
	if p.inflight.Load() == 0 {
		return
	}
	deadline := make(chan struct{})
	t := p.clock.AfterFunc(p.drain, func() { close(deadline) })
	defer t.Stop()
	for p.inflight.Load() != 0 {
		select {
		case <-p.idle:
		case <-deadline:
			p.log.Warn("drain timeout: messages still in flight", "in_flight", p.inflight.Load(), "timeout", p.drain)
			return
		}
	}
}

func (p *Pipeline) closeModules() {
	for _, n := range p.nodes {
		n.failures.close()
		if c, ok := n.mod.(Closer); ok {
			if err := c.Close(); err != nil {
				n.env.Log.Error("close failed", "error", err)
			}
		}
	}
}

// reportLeft logs each message left in a queue after shutdown.
func (p *Pipeline) reportLeft() {
	p.leftMu.Lock()
	total := len(p.left)
	p.leftMu.Unlock()
	for _, n := range p.nodes {
		for _, q := range n.inq {
			for {
				select {
				case m := <-q.ch:
					total++
					p.recordLeft(n, q, m)
					continue
				default:
				}
				break
			}
		}
	}
	if total > 0 {
		p.log.Error("shutdown left messages undelivered", "count", total)
	}
}

// Undelivered returns the ids of the messages Run found still queued after
// the drain timeout, and the queue each was in; Run has logged them.
func (p *Pipeline) Undelivered() (ids []string, queues []QueueRef) {
	p.leftMu.Lock()
	defer p.leftMu.Unlock()
	return append([]string(nil), p.leftID...), append([]QueueRef(nil), p.left...)
}

func (p *Pipeline) recordLeft(n *node, q *queue, m *Message) {
	n.env.Log.Error("message in flight at shutdown, not delivered", "queue", q.ref.String(), "id", m.ID, "errors", chainText(m))
	p.leftMu.Lock()
	p.left = append(p.left, q.ref)
	p.leftID = append(p.leftID, m.ID)
	p.leftMu.Unlock()
}

// InFlight reports how many messages are in queues or being handled.
func (p *Pipeline) InFlight() int64 { return p.inflight.Load() }

// ErrUnknownModule is returned by Module for a name not in the pipeline.
var ErrUnknownModule = errors.New("pipeline: unknown module")

// Module returns the running instance named name (tests inspect modules).
func (p *Pipeline) Module(name string) (Module, error) {
	n, ok := p.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownModule, name)
	}
	return n.mod, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
