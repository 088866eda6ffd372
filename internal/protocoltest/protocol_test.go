package protocoltest

import (
	"strconv"
	"syscall"
	"testing"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/journal"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/internal/wal"
)

// startReprieve starts an in-process Reprieve server.
func startReprieve(t *testing.T, cfg Config) *Target {
	return startReprieveWith(t, cfg, nil)
}

// startReprieveDurable starts an in-process Reprieve server whose journal
// is a durable log in a fresh data directory.
func startReprieveDurable(t *testing.T, cfg Config) *Target {
	l, _, err := wal.Open(wal.Options{Dir: t.TempDir(), Fsync: wal.FsyncInterval, SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close the log: %v", err)
		}
	})
	return startReprieveWith(t, cfg, l)
}

// startReprieveWith starts an in-process Reprieve server with journal j
// (nil: none).
func startReprieveWith(t *testing.T, cfg Config, j journal.Journal) *Target {
	srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{MaxJobSize: cfg.MaxJobSize, Journal: j}})
	return &Target{
		Addr:    srv.Addr,
		Durable: j != nil,
		Drain: func(t *testing.T) {
			srv.Server.SetDraining(true)
			Dial(t, srv.Addr).WaitStat("stats", "draining", "true")
		},
	}
}

// startBeanstalkd starts a real beanstalkd.
func startBeanstalkd(t *testing.T, cfg Config) *Target {
	return startBeanstalkdWith(t, cfg)
}

// startBeanstalkdDurable starts a real beanstalkd with a binlog (-b) in a
// fresh directory.
func startBeanstalkdDurable(t *testing.T, cfg Config) *Target {
	return startBeanstalkdWith(t, cfg, "-b", t.TempDir())
}

// startBeanstalkdWith starts a real beanstalkd with extra arguments.
func startBeanstalkdWith(t *testing.T, cfg Config, extra ...string) *Target {
	args := extra
	if cfg.MaxJobSize > 0 {
		args = append(args, "-z", strconv.Itoa(cfg.MaxJobSize))
	}
	bs := servertest.StartBeanstalkd(t, args...)
	return &Target{
		Addr:       bs.Addr,
		Beanstalkd: true,
		Durable:    len(extra) > 0,
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

// TestReprieveDurable runs the suite against Reprieve with a durable log.
func TestReprieveDurable(t *testing.T) { Run(t, startReprieveDurable) }

// TestBeanstalkdDurable runs the suite against beanstalkd -b, the durable
// peer.
func TestBeanstalkdDurable(t *testing.T) { Run(t, startBeanstalkdDurable) }
