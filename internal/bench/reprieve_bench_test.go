package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/internal/wal"
)

// BenchmarkReprieveServer runs the generator against an in-process Reprieve
// server, in memory and with its log under each fsync policy, so that
// `go test -bench ReprieveServer -cpuprofile … -memprofile …` profiles the
// server's path per request (the generator allocates nothing per request;
// its CPU shows under internal/bench). docs/performance.md has the figures.
func BenchmarkReprieveServer(b *testing.B) {
	cases := []struct {
		durability string
		workload   Workload
		conns      int
	}{
		{"memory", Put, 8},
		{"memory", ReserveDelete, 8},
		{"interval", Put, 8},
		{"interval", ReserveDelete, 8},
		{"always", Put, 64},
	}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("%s/%s/conns=%d", tc.durability, tc.workload, tc.conns), func(b *testing.B) {
			var opts servertest.Options
			if tc.durability != "memory" {
				policy, interval, err := wal.ParseFsync(tc.durability)
				if err != nil {
					b.Fatal(err)
				}
				log, _, err := wal.Open(wal.Options{Dir: b.TempDir(), Fsync: policy, Interval: interval})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { log.Close() })
				opts.Broker = broker.Config{Journal: log}
			}
			srv := servertest.Start(b, &opts)
			cfg := DefaultConfig()
			cfg.Addr, cfg.Workload, cfg.Conns, cfg.Keep = srv.Addr, tc.workload, tc.conns, true
			cfg.Duration, cfg.Count = 0, int64(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			tail := newRuntimeTail()
			res, err := Run(context.Background(), cfg)
			if err != nil || res.Ops != int64(b.N) || res.Errors != 0 {
				b.Fatalf("result %+v, error %v; want %d operations", res, err, b.N)
			}
			b.ReportMetric(res.OpsPerSec, "ops/s")
			b.ReportMetric(res.P99(), "p99-µs")
			tail.report(b)
		})
	}
}
