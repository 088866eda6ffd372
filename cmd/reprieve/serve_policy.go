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
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	p := &policyConfig{}
	registerServePlugin(servePlugin{
		name:      "policies",
		flags:     p.register,
		configure: p.configure,
	})
}

// policyConfig is serve's --config flag and what it loaded.
type policyConfig struct {
	path string
	set  *policy.Set
}

// register adds --config to fs.
func (p *policyConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&p.path, "config", "", "tube policies: a YAML `file` of per-tube retry, give-up, retention, ready-expiry, concurrency, rate and unique, and periodic jobs (schedules) (docs/policies.md); reloaded on SIGHUP. Without it every tube behaves like beanstalkd")
}

// configure loads the --config file before the broker is built (an invalid
// file stops the start, naming each problem's file and line), gives the
// policies to the broker, and reloads the file on SIGHUP from the moment
// the broker exists until the server has stopped.
func (p *policyConfig) configure(log *slog.Logger, bc *broker.Config, _ *server.Config) (func(*broker.Broker) error, func() error, error) {
	// Catch SIGHUP from now on, so that one sent while the log replays
	// does not end the process; it is served once the broker exists.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if p.path != "" {
		set, err := policy.Load(p.path)
		if err != nil {
			signal.Stop(hup)
			return nil, nil, err
		}
		p.set = set
		bc.Policies = set
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	started := func(b *broker.Broker) error {
		p.logLoaded(log, "loaded")
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
		return nil
	}
	stop := func() error {
		signal.Stop(hup)
		close(done)
		wg.Wait()
		return nil
	}
	return started, stop, nil
}

// logLoaded logs the policies in force.
func (p *policyConfig) logLoaded(log *slog.Logger, verb string) {
	if p.set == nil {
		return
	}
	log.Info("failure policies "+verb, "file", p.path, "entries", p.set.Len(), "default", p.set.Default() != nil, "schedules", len(p.set.Schedules()))
	for _, name := range p.set.Entries() {
		log.Debug("failure policy", "tube", name, "policy", p.set.Lookup(name).String())
	}
	if d := p.set.Default(); d != nil {
		log.Debug("failure policy", "tube", "default", "policy", d.String())
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
