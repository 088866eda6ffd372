package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reprieve/reprieve/client"
)

// Worker takes jobs from its servers and runs the handler of their tube.
// Register handlers with Handle, then call Run once.
type Worker struct {
	cfg Config

	mu      sync.Mutex              // protects tubes, started, plain
	tubes   []tube                  // in the order registered
	started bool                    // Run was called: no more Handle
	plain   map[string]bool         // servers found to lack fail (plain beanstalkd), by address
	running map[*client.Handle]*run // jobs whose handler runs, for DEADLINE_SOON

	pool *client.Pool // the pool Run uses
}

// tube is one registered handler.
type tube struct {
	name string
	h    Handler
	opt  TubeOptions
}

// New returns a worker for cfg; it connects nothing until Run. The only
// error is an invalid config.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg.withDefaults(), plain: map[string]bool{}, running: map[*client.Handle]*run{}}, nil
}

// Handle registers h for the jobs of tube, wrapped in Config.Middleware.
// It panics, as http.ServeMux does for a bad pattern, on an invalid tube
// name, a tube registered twice, a nil handler, a negative Concurrency,
// or a call after Run.
func (w *Worker) Handle(name string, h Handler, opt TubeOptions) {
	if err := client.ValidTubeName(name); err != nil {
		panic(fmt.Sprintf("worker: Handle(%q): %v", name, err))
	}
	if h == nil || opt.Concurrency < 0 {
		panic(fmt.Sprintf("worker: Handle(%q): nil handler or negative Concurrency", name))
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = 1
	}
	for i := len(w.cfg.Middleware) - 1; i >= 0; i-- {
		h = w.cfg.Middleware[i](h)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		panic(fmt.Sprintf("worker: Handle(%q) after Run", name))
	}
	for _, t := range w.tubes {
		if t.name == name {
			panic(fmt.Sprintf("worker: Handle(%q): tube registered twice", name))
		}
	}
	w.tubes = append(w.tubes, tube{name: name, h: h, opt: opt})
}

// Run takes and handles jobs until ctx ends, then shuts down gracefully
// (see the package documentation) and returns nil once every handler has
// returned. Servers that are down are re-dialed in the background; Run
// does not return for them. Errors: ErrNoHandlers, a second call.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("worker: Run called twice")
	}
	w.started = true
	tubes := w.tubes
	w.mu.Unlock()
	if len(tubes) == 0 {
		return ErrNoHandlers
	}
	w.pool = w.cfg.Pool
	if w.pool == nil {
		total := 0
		for _, t := range tubes {
			total += t.opt.Concurrency
		}
		// SpareHold < 0: a job a second server hands out while a slot
		// waits on several goes back at once, not held for later.
		p, err := client.NewPool(ctx, client.PoolConfig{Addrs: w.cfg.Addrs, Dial: w.cfg.Dial, MaxIdleReservers: total, SpareHold: -1})
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		defer p.Close() // gives back a job a server handed out that no handler took
		w.pool = p
	}

	// Handlers run under hard, which ends ShutdownTimeout after ctx.
	hard, cancelHard := context.WithCancelCause(context.Background())
	defer cancelHard(nil)
	var grace *time.Timer
	var graceMu sync.Mutex // protects grace
	stop := context.AfterFunc(ctx, func() {
		graceMu.Lock()
		grace = time.AfterFunc(w.cfg.ShutdownTimeout, func() { cancelHard(errShutdown) })
		graceMu.Unlock()
	})
	defer func() {
		stop()
		graceMu.Lock()
		if grace != nil {
			grace.Stop()
		}
		graceMu.Unlock()
	}()

	var wg sync.WaitGroup
	for _, t := range tubes {
		for range t.opt.Concurrency {
			wg.Go(func() { w.slot(ctx, hard, t) })
		}
	}
	wg.Wait()
	return nil
}

// errShutdown is the cause of a handler's context cancelled because the
// shutdown timeout passed.
var errShutdown = errors.New("worker: shutting down")

// slot reserves and handles the jobs of t one at a time until ctx ends.
func (w *Worker) slot(ctx, hard context.Context, t tube) {
	idle := time.Duration(0)
	for ctx.Err() == nil {
		h, err := w.pool.Reserve(ctx, -1, t.name)
		if err == nil {
			idle = 0
			w.process(hard, t, h)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		var ds *client.DeadlineSoonError
		if errors.As(err, &ds) {
			w.deadlineSoon(ctx, ds.Handle)
			continue
		}
		// No live server, or a server's error: wait a while, growing.
		idle = min(max(2*idle, 50*time.Millisecond), time.Second)
		if !errors.Is(err, client.ErrNoServers) {
			w.cfg.Logger.Warn("worker: reserve failed", "tube", t.name, "err", err)
		}
		sleep(ctx, idle)
	}
}

// deadlineSoon answers DEADLINE_SOON for h: a heartbeat job is touched,
// any other waited for (its context is already cancelled) for at most
// DeadlineMargin, after which the server has taken it back.
func (w *Worker) deadlineSoon(ctx context.Context, h *client.Handle) {
	w.mu.Lock()
	r := w.running[h]
	w.mu.Unlock()
	if r != nil && r.t.opt.Heartbeat {
		if err := w.touch(r); err != nil {
			w.cfg.Logger.Warn("worker: touch failed", "tube", r.t.name, "id", h.ID, "err", err)
		}
		return
	}
	var done <-chan struct{}
	if r != nil {
		done = r.done
	}
	t := time.NewTimer(DeadlineMargin)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
