package main

// This file holds the failure-policy part of reprieve serve: the --config
// flag, loading the file at start, and reloading it on SIGHUP.

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/policy"
)

// policyConfig is serve's --config flag and what it loaded.
type policyConfig struct {
	path string
	set  *policy.Set
}

// register adds --config to fs.
func (p *policyConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&p.path, "config", "", "failure policies: a YAML `file` of per-tube retry, give-up, retention and ready-expiry (docs/policies.md); reloaded on SIGHUP. Without it every tube behaves like beanstalkd")
}

// load reads the file named by --config, if any, before the server
// starts; an invalid file is an error naming each problem's file and
// line. Without --config it returns a nil set (no policies).
func (p *policyConfig) load() (*policy.Set, error) {
	if p.path == "" {
		return nil, nil
	}
	set, err := policy.Load(p.path)
	if err != nil {
		return nil, err
	}
	p.set = set
	return set, nil
}

// logLoaded logs the policies in force, one line per entry.
func (p *policyConfig) logLoaded(log *slog.Logger, verb string) {
	if p.set == nil {
		return
	}
	log.Info("failure policies "+verb, "file", p.path, "entries", p.set.Len(), "default", p.set.Default() != nil)
}

// reloadOnHangup reloads the --config file into b on every SIGHUP until
// the returned stop is called; stop waits for the reloading goroutine. A
// file that fails to load is logged, problem by problem, and the policies
// in force are kept. Without --config, SIGHUP is only logged.
func (p *policyConfig) reloadOnHangup(b *broker.Broker, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-hup:
				p.reload(b, log)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
}

// reload loads the file again and installs it, or keeps the old policies.
func (p *policyConfig) reload(b *broker.Broker, log *slog.Logger) {
	if p.path == "" {
		log.Info("SIGHUP: no --config file to reload")
		return
	}
	set, err := policy.Reload(p.set, p.path)
	if err != nil {
		var ce *policy.ConfigError
		if errors.As(err, &ce) {
			for _, pr := range ce.Problems {
				log.Error("policy reload: invalid config", "problem", pr.String())
			}
		} else {
			log.Error("policy reload failed", "err", err)
		}
		log.Error("policy reload failed; keeping the policies in force", "file", p.path)
		return
	}
	p.set = set
	b.SetPolicies(set)
	p.logLoaded(log, "reloaded")
}
