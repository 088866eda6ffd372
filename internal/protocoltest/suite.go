// Package protocoltest is the black-box test suite of the beanstalkd
// protocol: raw bytes over real TCP, one named case per behaviour. Every
// case takes only a server address, so the same suite runs against
// Reprieve and against a real beanstalkd 1.12 (differential testing: it
// must pass on both). A case that checks a deliberate difference says so
// and consults Target.Beanstalkd; docs/protocol.md lists the differences.
package protocoltest

import (
	"sort"
	"testing"
)

// Target is a server under test, fresh for each case.
type Target struct {
	// Addr is the server's address, "127.0.0.1:port".
	Addr string
	// Beanstalkd is true for the real beanstalkd.
	Beanstalkd bool
	// Durable is true for a server that logs jobs to disk (Reprieve with
	// a data directory, beanstalkd -b).
	Durable bool
	// Drain turns drain mode on (SIGUSR1 for beanstalkd) and returns once
	// stats says "draining: true".
	Drain func(t *testing.T)
}

// Config is what a case needs of its server.
type Config struct {
	// MaxJobSize is the limit on job bodies; 0 means the default, 65535.
	MaxJobSize int
}

// Starter starts a fresh server for one case; it stops it in t.Cleanup.
type Starter func(t *testing.T, cfg Config) *Target

// Case is one behaviour of the protocol.
type Case struct {
	Name   string
	Config Config
	Run    func(t *testing.T, s *Target)
}

// caseList collects the cases of the case files (cases_*.go).
type caseList []Case

func (l *caseList) add(name string, run func(t *testing.T, s *Target)) {
	*l = append(*l, Case{Name: name, Run: run})
}

func (l *caseList) addConfig(name string, cfg Config, run func(t *testing.T, s *Target)) {
	*l = append(*l, Case{Name: name, Config: cfg, Run: run})
}

// Cases returns the cases of the suite sorted by name.
func Cases() []Case {
	var l caseList
	l.errorCases()
	l.jobCases()
	l.statsCases()
	l.timeCases()
	l.tubeCases()
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

// Run runs every case, in parallel, each against a fresh server from
// start.
func Run(t *testing.T, start Starter) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := start(t, c.Config)
			c.Run(t, s)
		})
	}
}
