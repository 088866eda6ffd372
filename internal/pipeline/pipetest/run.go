package pipetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
)

// epoch is the fake clock's start: failure times in a test are fixed.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Result is the outcome of one case.
type Result struct {
	Case *Case
	// Diff shows each queue whose messages differ from the expectation,
	// "-" for what was wanted and "+" for what came; empty if they match.
	Diff string
	// Err is why the case could not run (a bad queue name, a pipeline
	// that could not be built); the case then failed.
	Err error
}

// Passed reports whether the case ran and every expectation held.
func (r Result) Passed() bool { return r.Err == nil && r.Diff == "" }

// Run runs every case of s, each on a pipeline of its own built from
// s.Pipeline, and returns their results in order. log receives the
// pipelines' logs (nil: discarded). The error is for a bootstrap file that
// does not load.
func Run(ctx context.Context, s *Suite, log *slog.Logger) ([]Result, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if _, _, err := pipeline.LoadFile(s.Pipeline); err != nil {
		return nil, err
	}
	out := make([]Result, len(s.Cases))
	for i := range s.Cases {
		c := &s.Cases[i]
		diff, err := runCase(ctx, s.Pipeline, c, log)
		out[i] = Result{Case: c, Diff: diff, Err: err}
	}
	return out, nil
}

// runCase builds the pipeline for c, feeds it and compares.
func runCase(ctx context.Context, file string, c *Case, log *slog.Logger) (string, error) {
	cfg, _, err := pipeline.LoadFile(file)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "reprieve-test-")
	if err != nil {
		return "", fmt.Errorf("pipetest: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := prepare(cfg, c, dir); err != nil {
		return "", err
	}
	inMod, inQueue, _ := splitRef(c.Input.Queue)
	if !hasQueue(cfg, inMod, inQueue) {
		return "", fmt.Errorf("input queue %q: no such module or queue in %s", c.Input.Queue, file)
	}
	for q := range c.Expect {
		if m, qq, _ := splitRef(q); !hasQueue(cfg, m, qq) {
			return "", fmt.Errorf("expect %q: no such module or queue in %s", q, file)
		}
	}

	var mu sync.Mutex // protects seen
	seen := map[string][]*pipeline.Message{}
	observe := func(from, to pipeline.QueueRef, m *pipeline.Message) {
		mu.Lock()
		defer mu.Unlock()
		if from.Module != "" {
			seen[from.String()] = append(seen[from.String()], m)
		}
		if to.Module != "" {
			seen[to.String()] = append(seen[to.String()], m)
		}
	}
	clk := clock.NewFake(epoch)
	p, err := pipeline.New(cfg, pipeline.Options{Clock: clk, Log: log, Observe: observe})
	if err != nil {
		return "", err
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	defer func() {
		stop()
		<-ran
	}()

	deadline := time.Now().Add(c.timeout)
	feedCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ref := pipeline.QueueRef{Module: inMod, Queue: inQueue}
	for i, in := range c.Input.Messages {
		m := pipeline.NewMessage(in.ID, []byte(in.Body))
		if m.ID == "" {
			m.ID = fmt.Sprintf("msg-%d", i+1)
		}
		m.Attempt = in.Attempt
		if len(in.Meta) > 0 {
			m.Meta = in.Meta
		}
		if err := p.Inject(feedCtx, ref, m); err != nil {
			return "", err
		}
	}
	for p.InFlight() != 0 {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%d messages still in the pipeline after %v (raise the case's timeout, or a module is stuck)", p.InFlight(), c.timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	return compare(c.Expect, seen), nil
}

// prepare rewrites cfg for a test: inputs fed by the case only, outputs
// replaced by modules that accept (or fail, as c.Fail says), directories
// in dir, and c's argument overrides.
func prepare(cfg *pipeline.Config, c *Case, dir string) error {
	byName := map[string]*pipeline.ModuleConfig{}
	for i := range cfg.Modules {
		byName[cfg.Modules[i].Name] = &cfg.Modules[i]
	}
	for name := range c.Fail {
		mc, ok := byName[name]
		if !ok || !strings.HasPrefix(mc.Kind.Name, "output.") {
			return fmt.Errorf("fail: %q is not an output module of the pipeline (only outputs are replaced)", name)
		}
	}
	for name, args := range c.Arguments {
		mc, ok := byName[name]
		if !ok {
			return fmt.Errorf("arguments: no module %q in the pipeline", name)
		}
		for arg, v := range args {
			if err := override(mc, arg, v); err != nil {
				return fmt.Errorf("arguments: %s: %w", name, err)
			}
		}
	}
	for i := range cfg.Modules {
		mc := &cfg.Modules[i]
		switch k := mc.Kind; {
		case strings.HasPrefix(k.Name, "input."):
			mc.Kind = &pipeline.Kind{Name: "test." + k.Name, Out: k.Out, DynamicOut: k.DynamicOut,
				New: func(*pipeline.Env, pipeline.Args) (pipeline.Module, error) { return struct{}{}, nil }}
		case strings.HasPrefix(k.Name, "output."):
			var fail error
			if text, ok := c.Fail[mc.Name]; ok {
				fail = errors.New(text)
			}
			mc.Kind = &pipeline.Kind{Name: "test." + k.Name, In: k.In, Out: k.Out, DynamicIn: k.DynamicIn, DynamicOut: k.DynamicOut,
				New: func(*pipeline.Env, pipeline.Args) (pipeline.Module, error) { return sink{fail}, nil }}
		default:
			for _, a := range k.Args {
				if a.Name == "directory" {
					mc.Args[a.Name] = filepath.Join(dir, mc.Name)
				}
			}
		}
	}
	// Run returns as soon as no runner is left and nothing is in flight:
	// this one keeps it running until the case is done, whatever the
	// pipeline holds.
	cfg.Modules = append(cfg.Modules, pipeline.ModuleConfig{Name: " test keepalive", Workers: 1, Kind: &pipeline.Kind{Name: "test.keepalive",
		New: func(*pipeline.Env, pipeline.Args) (pipeline.Module, error) { return keepalive{}, nil }}})
	return nil
}

// keepalive is a runner that runs until the pipeline stops.
type keepalive struct{}

func (keepalive) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// sink stands for an output module: it accepts every message, or fails
// every one with err.
type sink struct{ err error }

func (s sink) Handle(context.Context, string, *pipeline.Message) error { return s.err }

// hasQueue reports whether module has queue q, declared by its kind or
// named in the routing table.
func hasQueue(cfg *pipeline.Config, module, q string) bool {
	for _, mc := range cfg.Modules {
		if mc.Name != module {
			continue
		}
		for _, n := range append(mc.Kind.In, mc.Kind.OutQueues()...) {
			if n == q {
				return true
			}
		}
	}
	for _, r := range cfg.Routes {
		if r.From == (pipeline.QueueRef{Module: module, Queue: q}) || r.To == (pipeline.QueueRef{Module: module, Queue: q}) {
			return true
		}
	}
	return false
}
