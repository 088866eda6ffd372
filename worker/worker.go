package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/testhook"
)

// Worker takes jobs from its servers and runs the handler of their tube.
// Register handlers with Handle, then call Run once.
type Worker struct {
	cfg Config
	clk clock.Clock // times TTR budgets, heartbeats, DEADLINE_SOON waits, idle backoff and the shutdown

	mu      sync.Mutex // protects tubes, started
	tubes   []tube     // in the order registered
	started bool       // Run was called: no more Handle

	plain sync.Map     // address → true for a server found to lack fail (plain beanstalkd); read per job without a lock
	slots []*slot      // every tube's slots, set by Run before they start: for DEADLINE_SOON
	pool  *client.Pool // the pool Run uses
}

// tube is one registered handler.
type tube struct {
	name string
	h    Handler
	opt  TubeOptions
}

// slot is one of a tube's Concurrency: a goroutine of Run that reserves
// and handles one job at a time.
type slot struct {
	t tube

	mu  sync.Mutex // protects cur
	cur *run       // the job whose handler runs, nil between jobs
}

// current returns the job whose handler runs, or nil.
func (s *slot) current() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// setCurrent records r (nil: none) as the slot's running job.
func (s *slot) setCurrent(r *run) {
	s.mu.Lock()
	s.cur = r
	s.mu.Unlock()
}

// New returns a worker for cfg; it connects nothing until Run. The only
// error is an invalid config.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Worker{cfg: cfg, clk: cfg.clock}, nil
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
		pcfg := client.PoolConfig{Addrs: w.cfg.Addrs, Dial: w.cfg.Dial, MaxIdleReservers: total, SpareHold: -1}
		testhook.SetPoolClock(&pcfg, w.clk)
		p, err := client.NewPool(ctx, pcfg)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		defer p.Close() // gives back a job a server handed out that no handler took
		w.pool = p
	}

	// Handlers run under hard, which ends ShutdownTimeout after ctx.
	hard, cancelHard := context.WithCancelCause(context.Background())
	defer cancelHard(nil)
	var grace clock.Timer
	var graceMu sync.Mutex // protects grace
	stop := context.AfterFunc(ctx, func() {
		graceMu.Lock()
		grace = w.clk.AfterFunc(w.cfg.ShutdownTimeout, func() { cancelHard(errShutdown) })
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

	for _, t := range tubes {
		for range t.opt.Concurrency {
			w.slots = append(w.slots, &slot{t: t})
		}
	}
	var wg sync.WaitGroup
	for _, s := range w.slots {
		wg.Go(func() { w.serve(ctx, hard, s) })
	}
	wg.Wait()
	return nil
}

// errShutdown is the cause of a handler's context cancelled because the
// shutdown timeout passed.
var errShutdown = errors.New("worker: shutting down")

// serve reserves and handles the jobs of s's tube one at a time until ctx
// ends. Its handlers run under a context of its own, derived from hard
// once, so that a job's context does not register with (and lock) the
// context that every slot shares; when hard ends, the job whose handler still runs is
// released, and serve returns once that is done.
func (w *Worker) serve(ctx, hard context.Context, s *slot) {
	sctx, cancel := context.WithCancel(hard)
	defer cancel()
	// Likewise each reserve's request registers with a context of the
	// slot's, not with ctx.
	ctx, cancelReserve := context.WithCancel(ctx)
	defer cancelReserve()
	released := make(chan struct{})
	stop := context.AfterFunc(hard, func() {
		defer close(released)
		if r := s.current(); r != nil && r.settle() {
			w.release(r)
		}
	})
	defer func() {
		if !stop() {
			<-released
		}
	}()
	idle := time.Duration(0)
	for ctx.Err() == nil {
		h, err := w.pool.Reserve(ctx, -1, s.t.name)
		if err == nil {
			idle = 0
			w.process(sctx, s, h)
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
			w.cfg.Logger.Warn("worker: reserve failed", "tube", s.t.name, "err", err)
		}
		w.sleep(ctx, idle)
	}
}

// running returns the job of h if its handler runs, else nil.
func (w *Worker) running(h *client.Handle) *run {
	for _, s := range w.slots {
		if r := s.current(); r != nil && r.h == h {
			return r
		}
	}
	return nil
}

// deadlineSoon answers DEADLINE_SOON for h: a heartbeat job is touched
// (its heartbeat is late); then, for any job, the slot waits until the
// job is finished or DeadlineMargin has passed (by then the server has
// taken back a job nobody touched), rather than reserving again at once:
// a Reserve would say DEADLINE_SOON again while the job is due, and a job
// whose TTR is no longer than the margin is due from the start.
func (w *Worker) deadlineSoon(ctx context.Context, h *client.Handle) {
	r := w.running(h)
	w.cfg.Logger.Debug("worker: deadline soon", "id", h.ID, "server", h.Addr, "running", r != nil)
	var done <-chan struct{}
	if r != nil {
		done = r.done
		if r.t.opt.Heartbeat {
			if err := w.touch(r); err != nil {
				w.cfg.Logger.Warn("worker: touch failed", "tube", r.t.name, "id", h.ID, "err", err)
			}
		}
	}
	w.wait(ctx, done, DeadlineMargin)
}

// sleep waits d on the worker's clock, or until ctx ends; it reports
// whether d passed.
func (w *Worker) sleep(ctx context.Context, d time.Duration) bool {
	return w.wait(ctx, nil, d)
}

// wait waits until done is closed, d passes on the worker's clock, or ctx
// ends; it reports whether d passed.
func (w *Worker) wait(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	passed := make(chan struct{})
	t := w.clk.AfterFunc(d, func() { close(passed) })
	defer t.Stop()
	select {
	case <-done:
	case <-passed:
		return true
	case <-ctx.Done():
	}
	return false
}

// isPlain reports whether the server at addr was found to lack fail.
func (w *Worker) isPlain(addr string) bool {
	v, ok := w.plain.Load(addr)
	return ok && v.(bool)
}

// setPlain records whether the server at addr lacks fail, writing only a
// change.
func (w *Worker) setPlain(addr string, plain bool) {
	if w.isPlain(addr) != plain {
		w.plain.Store(addr, plain)
	}
}
