package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/memory"
	"github.com/reprieve/reprieve/internal/policy"
)

// adminShutdownTimeout bounds how long admin requests in progress get to
// finish at Shutdown.
const adminShutdownTimeout = 5 * time.Second

// Drain turns drain mode on or off: while it is on, put answers DRAINING
// and everything else works (beanstalkd's SIGUSR1).
func (s *Server) Drain(on bool) { s.srv.SetDraining(on) }

// Reload reads the policy file and the certificates (job port and admin)
// again and puts in force what passes the checks; a refused file is
// logged, problem by problem, the old policies or certificate stay, and
// the errors are returned joined. Connections already open keep their
// certificate.
func (s *Server) Reload() error {
	var errs []error
	if err := s.reloadPolicies(); err != nil {
		errs = append(errs, err)
	}
	if s.pair != nil {
		if err := s.pair.ReloadLogged(s.log, "job port"); err != nil {
			errs = append(errs, fmt.Errorf("server: job port certificate: %w", err))
		}
	}
	if s.adm != nil && s.adm.Certificates() != nil {
		if err := s.adm.Certificates().ReloadLogged(s.log, "admin interface"); err != nil {
			errs = append(errs, fmt.Errorf("server: admin certificate: %w", err))
		}
	}
	return errors.Join(errs...)
}

// reloadPolicies loads PolicyFile again and installs it, or keeps the
// policies in force.
func (s *Server) reloadPolicies() error {
	if s.cfg.PolicyFile == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := policy.Reload(s.policies, s.cfg.PolicyFile)
	if err != nil {
		var ce *policy.ConfigError
		if errors.As(err, &ce) {
			for _, pr := range ce.Problems {
				s.log.Error("policy reload: invalid config", "problem", pr.String())
			}
		} else {
			s.log.Error("policy reload failed", "err", err)
		}
		s.log.Error("policy reload failed; keeping the policies in force", "file", s.cfg.PolicyFile)
		return err
	}
	s.policies = set
	s.b.SetPolicies(set)
	s.logPolicies("reloaded")
	return nil
}

// logPolicies logs the policies in force.
func (s *Server) logPolicies(verb string) {
	set := s.policies
	s.log.Info("failure policies "+verb, "file", s.cfg.PolicyFile, "entries", set.Len(), "default", set.Default() != nil, "schedules", len(set.Schedules()))
	for _, name := range set.Entries() {
		s.log.Debug("failure policy", "tube", name, "policy", set.Lookup(name).String())
	}
	if d := set.Default(); d != nil {
		s.log.Debug("failure policy", "tube", "default", "policy", d.String())
	}
}

// Shutdown stops the server gracefully: the job port stops accepting,
// each connection finishes the commands it sent (a blocked reserve ends
// at once), then the admin interface, the engine and the log stop, in
// the reverse of New's order. If ctx ends first, the remaining
// connections are closed and ctx's error returned; the rest still stops.
// Calls after the first return its result at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		served := s.serving
		s.serving = true // a Serve after Shutdown returns ErrServed
		s.mu.Unlock()
		s.stopFollowing()
		err := s.srv.Shutdown(ctx)
		if !served {
			s.ln.Close()
		}
		s.stopErr = errors.Join(err, s.close())
		close(s.stopped)
	})
	<-s.stopped
	return s.stopErr
}

// close stops what New started after the job port, in reverse order.
func (s *Server) close() error {
	var errs []error
	s.mu.Lock()
	stopKeeper := s.keeperStop
	s.keeperStop = nil
	s.mu.Unlock()
	if stopKeeper != nil {
		stopKeeper()
	}
	if s.adm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
		if err := s.adm.Shutdown(ctx); err != nil {
			s.log.Warn("admin interface: shutdown timed out; its requests were cut off", "err", err)
		}
		cancel()
	}
	if s.b != nil {
		s.b.Close()
	}
	if s.wlog != nil {
		errs = append(errs, s.wlog.Close())
	}
	if s.node != nil {
		errs = append(errs, s.node.Close())
	}
	return errors.Join(errs...)
}

// startKeeper runs the memory keeper (internal/memory) until close.
func (s *Server) startKeeper() {
	k, err := memory.New(memory.DefaultConfig())
	if err != nil { // the defaults are valid; a failure here is a bug
		s.log.Error("memory keeper not started", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Run(ctx)
	}()
	s.mu.Lock()
	s.keeperStop = func() { cancel(); <-done }
	s.mu.Unlock()
}
