package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Run performs one run against cfg.Addr: it prepares the tubes (background
// tubes, buried jobs, prefill; not measured), runs the workload until
// Duration has passed or Count operations are done, and then, unless
// cfg.Keep, deletes the ready and delayed jobs left in its tubes. Cancelling
// ctx stops the run early; the result then covers what was done.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := prepare(ctx, cfg); err != nil {
		return nil, err
	}
	res, runErr := measure(ctx, cfg)
	if !cfg.Keep && ctx.Err() == nil {
		if err := drain(ctx, cfg); err != nil && runErr == nil {
			runErr = fmt.Errorf("bench: delete the run's jobs: %w", err)
		}
	}
	return res, runErr
}

// prepare fills the background tubes, buries cfg.Bury jobs and prefills
// the tubes the workload takes jobs from.
func prepare(ctx context.Context, cfg Config) error {
	used := cfg.usedTubes()
	var jobs []tubeJobs
	for t := used; t < cfg.Tubes; t++ {
		jobs = append(jobs, tubeJobs{tube: cfg.tubeName(t), n: 1})
	}
	if err := bury(ctx, cfg, cfg.tubeName(0), cfg.Bury); err != nil {
		return fmt.Errorf("bench: bury before the run: %w", err)
	}
	if total := cfg.prefill(); total > 0 {
		perTube := make([]int64, used)
		for i := range cfg.Conns {
			perTube[i%used] += share(total, cfg.Conns, i)
		}
		for t, n := range perTube {
			jobs = append(jobs, tubeJobs{tube: cfg.tubeName(t), n: n})
		}
	}
	if err := fill(ctx, cfg, jobs, 8); err != nil {
		return fmt.Errorf("bench: prefill: %w", err)
	}
	return nil
}

// drain deletes the jobs the run left: a pipelined reserve+delete pass over
// the tubes the workload used, then peek+delete for delayed jobs and the
// background tubes.
func drain(ctx context.Context, cfg Config) error {
	dc := cfg
	dc.Workload = ReserveDelete
	dc.Pipeline = max(cfg.Pipeline, 16)
	dc.Duration, dc.Count = 0, 0
	sh := &shared{base: time.Now()}
	ws, err := dialWorkers(ctx, dc, sh, func(i int) (role, int64) { return roleConsumer, -1 })
	if err != nil {
		return err
	}
	err = runWorkers(ctx, ws, sh)
	closeWorkers(ws)
	if err != nil {
		return err
	}
	tubes := make([]string, cfg.Tubes)
	for t := range tubes {
		tubes[t] = cfg.tubeName(t)
	}
	return peekDrain(ctx, cfg, tubes, 8)
}

// measure runs the workload proper.
func measure(ctx context.Context, cfg Config) (*Result, error) {
	sh := &shared{count: cfg.Count}
	roles := func(i int) (role, int64) {
		budget := int64(-1)
		if cfg.Count > 0 {
			budget = share(cfg.Count, cfg.Conns, i)
		}
		switch cfg.Workload {
		case ReserveDelete:
			return roleConsumer, budget
		case ReleaseChurn:
			return roleChurner, budget
		case PutReserveDelete:
			if i >= cfg.Conns {
				return roleStampWorker, -1
			}
			return roleProducer, budget
		}
		return roleProducer, budget
	}
	n := cfg.Conns
	if cfg.Workload == PutReserveDelete {
		n = 2 * cfg.Conns
		sh.producersLeft.Store(int64(cfg.Conns))
	}
	dc := cfg
	dc.Conns = n
	ws, err := dialWorkers(ctx, dc, sh, roles)
	if err != nil {
		return nil, err
	}
	defer closeWorkers(ws)

	sh.base = time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { sh.stop.Store(true) })
		defer t.Stop()
	}
	if cfg.Progress != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reportProgress(cfg, ws, sh, done)
		}()
	}
	var runErr error
	if cfg.EventLoop {
		runErr = runLoop(ctx, ws, sh)
	} else {
		runErr = runWorkers(ctx, ws, sh)
	}
	close(done)
	wg.Wait()

	res := &Result{
		Workload: cfg.Workload, Addr: cfg.Addr, Conns: cfg.Conns, Pipeline: cfg.Pipeline,
		Size: cfg.Size, Tubes: cfg.Tubes, Rate: cfg.Rate, LatencyFrom: FromSend,
	}
	if cfg.Rate > 0 && (cfg.Workload == Put || cfg.Workload == PutReserveDelete) {
		res.LatencyFrom = FromSchedule
	}
	var main, puts Histogram
	var last int64
	for _, w := range ws {
		res.Ops += w.cnt.ops.Load()
		res.Errors += w.errs
		main.Merge(&w.lat)
		puts.Merge(&w.lat2)
		if w.countOps {
			last = max(last, w.lastDone)
		}
	}
	if last == 0 {
		last = sh.now()
	}
	res.Seconds = time.Duration(last).Seconds()
	if res.Seconds > 0 {
		res.OpsPerSec = float64(res.Ops) / res.Seconds
	}
	switch cfg.Workload {
	case Put:
		res.Latency = []Latency{summarize("put", &main)}
	case ReserveDelete:
		res.Latency = []Latency{summarize("reserve-delete", &main)}
	case ReleaseChurn:
		res.Latency = []Latency{summarize("reserve-release", &main)}
	case PutReserveDelete:
		res.Latency = []Latency{summarize("put-to-reserve", &main), summarize("put", &puts)}
	}
	return res, runErr
}

// dialWorkers connects cfg.Conns workers; roleOf gives worker i its role
// and request budget. Worker i works on tube i mod Tubes (for
// PutReserveDelete, producer i and worker Conns+i share a tube).
func dialWorkers(ctx context.Context, cfg Config, sh *shared, roleOf func(i int) (role, int64)) ([]*worker, error) {
	ws := make([]*worker, cfg.Conns)
	half := cfg.Conns
	if cfg.Workload == PutReserveDelete {
		half = cfg.Conns / 2
	}
	err := parallel(cfg.Conns, func(i int) error {
		c, err := dial(ctx, cfg.Addr, cfg.TLS)
		if err != nil {
			return err
		}
		r, budget := roleOf(i)
		tube := cfg.tubeName((i % half) % cfg.Tubes)
		// Every connection uses its tube (kick works on the used tube);
		// the others watch only it.
		err = c.useTube(tube)
		if err == nil && r != roleProducer {
			err = c.watchOnly(tube)
		}
		if err != nil {
			c.close()
			return err
		}
		ws[i] = newWorker(c, sh, r, cfg, i, budget)
		return nil
	})
	if err != nil {
		closeWorkers(ws)
		return nil, err
	}
	return ws, nil
}

func closeWorkers(ws []*worker) {
	for _, w := range ws {
		if w != nil {
			w.c.close()
		}
	}
}

// runWorkers runs every worker to its end and returns the first error. If
// ctx is cancelled or a worker fails, the others start nothing new and are
// given a few seconds to read their last replies.
func runWorkers(ctx context.Context, ws []*worker, sh *shared) error {
	abort := func() {
		sh.stop.Store(true)
		deadline := time.Now().Add(3 * time.Second)
		for _, w := range ws {
			_ = w.c.nc.SetReadDeadline(deadline)
		}
	}
	stopAfter := context.AfterFunc(ctx, abort)
	defer stopAfter()
	var once sync.Once
	return parallel(len(ws), func(i int) error {
		w := ws[i]
		err := w.loop()
		if w.role == roleProducer {
			sh.producersLeft.Add(-1)
		}
		if err != nil {
			once.Do(abort)
		}
		return err
	})
}

// reportProgress writes a progress line every cfg.ProgressEvery until done
// is closed.
func reportProgress(cfg Config, ws []*worker, sh *shared, done <-chan struct{}) {
	t := time.NewTicker(cfg.ProgressEvery)
	defer t.Stop()
	var lastOps int64
	lastAt := time.Duration(0)
	for {
		select {
		case <-done:
			if cfg.ProgressInPlace {
				fmt.Fprint(cfg.Progress, "\r\x1b[K")
			}
			return
		case <-t.C:
		}
		var ops, errs int64
		for _, w := range ws {
			ops += w.cnt.ops.Load()
			errs += w.cnt.errors.Load()
		}
		at := time.Since(sh.base)
		rate := float64(ops-lastOps) / (at - lastAt).Seconds()
		lastOps, lastAt = ops, at
		line := fmt.Sprintf("%s %s: %6.1fs %12d ops %10.0f ops/s %6d errors",
			cfg.Workload, cfg.Addr, at.Seconds(), ops, rate, errs)
		if cfg.ProgressInPlace {
			fmt.Fprintf(cfg.Progress, "\r%s\x1b[K", line)
		} else {
			fmt.Fprintln(cfg.Progress, line)
		}
	}
}
