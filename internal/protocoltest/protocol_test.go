package protocoltest

import (
	"strconv"
	"syscall"
	"testing"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/servertest"
)

// startReprieve starts an in-process Reprieve server.
func startReprieve(t *testing.T, cfg Config) *Target {
	srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{MaxJobSize: cfg.MaxJobSize}})
	return &Target{
		Addr: srv.Addr,
		Drain: func(t *testing.T) {
			srv.Server.SetDraining(true)
			Dial(t, srv.Addr).WaitStat("stats", "draining", "true")
		},
	}
}

// startBeanstalkd starts a real beanstalkd.
func startBeanstalkd(t *testing.T, cfg Config) *Target {
	var args []string
	if cfg.MaxJobSize > 0 {
		args = []string{"-z", strconv.Itoa(cfg.MaxJobSize)}
	}
	bs := servertest.StartBeanstalkd(t, args...)
	return &Target{
		Addr:       bs.Addr,
		Beanstalkd: true,
		Drain: func(t *testing.T) {
			if err := bs.Signal(syscall.SIGUSR1); err != nil {
				t.Fatalf("SIGUSR1: %v", err)
			}
			Dial(t, bs.Addr).WaitStat("stats", "draining", "true")
		},
	}
}

// TestReprieve runs the suite against Reprieve.
func TestReprieve(t *testing.T) { Run(t, startReprieve) }

// TestBeanstalkd runs the same suite against beanstalkd 1.12, so that the
// suite encodes beanstalkd's real behaviour.
func TestBeanstalkd(t *testing.T) { Run(t, startBeanstalkd) }
