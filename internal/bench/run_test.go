package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/poll"
)

func TestPutCountIsExact(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, Put, 1001)
	cfg.Keep = true
	res := runOK(t, cfg)
	if res.Ops != 1001 || res.Latency[0].Name != "put" || res.Latency[0].Count != 1001 {
		t.Fatalf("ops %d, latency %+v; want 1001 puts", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{"cmd-put": "1001", "current-jobs-ready": "1001", "cmd-delete": "0"})
	wantStats(t, addr, "stats-tube bench-0", map[string]string{"current-jobs-ready": "1001"})
}

func TestPutDrainsItsJobsUnlessKept(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	runOK(t, testConfig(addr, Put, 500))
	wantStats(t, addr, "stats", map[string]string{"cmd-put": "500", "cmd-delete": "500", "current-jobs-ready": "0"})
}

func TestReserveDeleteEmptiesItsTube(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	res := runOK(t, testConfig(addr, ReserveDelete, 777))
	if res.Ops != 777 || res.Latency[0].Name != "reserve-delete" || res.Latency[0].Count != 777 {
		t.Fatalf("ops %d latency %+v, want 777 pairs", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{
		"cmd-put": "777", "cmd-delete": "777", "current-jobs-ready": "0", "current-jobs-reserved": "0",
	})
	// The tube, empty and unused, is gone once the server has seen the
	// run's connections close (it learns that after the run returns):
	// only "default" is left.
	poll.Until(t, "the server has seen the run's connections close", func() bool {
		return stats(t, addr, "stats")["current-connections"] == "1"
	})
	wantStats(t, addr, "stats", map[string]string{"current-tubes": "1", "total-jobs": "777", "current-connections": "1"})
}

func TestReserveDeleteInDurationModeStopsWhenEmpty(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, ReserveDelete, 0)
	cfg.Duration = time.Hour // the tube empties long before
	cfg.Prefill = 300
	res := runOK(t, cfg)
	if res.Ops != 300 {
		t.Fatalf("ops %d, want the 300 prefilled jobs", res.Ops)
	}
	wantStats(t, addr, "stats", map[string]string{"cmd-delete": "300", "current-jobs-ready": "0"})
}

func TestReserveDeleteWithoutPrefillTakesWhatIsThere(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, Put, 120)
	cfg.Keep = true
	runOK(t, cfg)
	cfg = testConfig(addr, ReserveDelete, 100)
	cfg.NoPrefill, cfg.Keep = true, true
	if res := runOK(t, cfg); res.Ops != 100 {
		t.Fatalf("ops %d, want 100", res.Ops)
	}
	wantStats(t, addr, "stats", map[string]string{"cmd-put": "120", "cmd-delete": "100", "current-jobs-ready": "20"})
}

func TestPutReserveDeleteCountsEveryJobOnce(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, PutReserveDelete, 999)
	cfg.Conns = 3
	cfg.Rate = 50_000 // paced: the same exact counts
	res := runOK(t, cfg)
	if res.Ops != 999 || len(res.Latency) != 2 ||
		res.Latency[0].Name != "put-to-reserve" || res.Latency[0].Count != 999 ||
		res.Latency[1].Name != "put" || res.Latency[1].Count != 999 {
		t.Fatalf("ops %d latency %+v, want 999 put-to-reserve and 999 put", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{
		"cmd-put": "999", "cmd-delete": "999", "current-jobs-ready": "0", "current-jobs-reserved": "0",
	})
}

func TestPutReserveDeleteInDurationModeLeavesNothing(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, PutReserveDelete, 0)
	cfg.Duration = 200 * time.Millisecond
	cfg.Keep = true // nothing should be left to drain anyway
	res := runOK(t, cfg)
	st := stats(t, addr, "stats")
	if strconv.FormatInt(res.Ops, 10) != st["cmd-delete"] || st["cmd-put"] != st["cmd-delete"] || st["current-jobs-ready"] != "0" {
		t.Fatalf("ops %d, stats put %s delete %s ready %s: want every put deleted and counted",
			res.Ops, st["cmd-put"], st["cmd-delete"], st["current-jobs-ready"])
	}
}

func TestReleaseChurnReleasesCountTimes(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, ReleaseChurn, 2500)
	cfg.Prefill = 40
	res := runOK(t, cfg)
	if res.Ops != 2500 || res.Latency[0].Name != "reserve-release" {
		t.Fatalf("ops %d latency %+v", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{
		"cmd-put": "40", "cmd-release": "2500", "cmd-delete": "40", "current-jobs-ready": "0",
	})
}

func TestReleaseChurnWithDelayLeavesNoDelayedJob(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, ReleaseChurn, 8)
	cfg.Prefill = 100
	cfg.Delay = time.Second
	runOK(t, cfg)
	wantStats(t, addr, "stats", map[string]string{
		"cmd-release": "8", "cmd-delete": "100", "current-jobs-delayed": "0", "current-jobs-ready": "0",
	})
}

func TestReleaseChurnWithKickRunsRoundsOfLongDelays(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, ReleaseChurn, 200)
	cfg.Conns, cfg.Prefill, cfg.Delay, cfg.Kick = 2, 50, time.Hour, true
	runOK(t, cfg)
	st := stats(t, addr, "stats")
	kicks, _ := strconv.Atoi(st["cmd-kick"])
	// 200 releases of 50 jobs delayed for an hour: at least 3 rounds
	// needed a kick; afterwards the delayed jobs are deleted.
	if st["cmd-release"] != "200" || kicks < 3 || st["cmd-delete"] != "50" || st["current-jobs-delayed"] != "0" {
		t.Fatalf("release %s kick %s delete %s delayed %s; want 200, >= 3, 50, 0",
			st["cmd-release"], st["cmd-kick"], st["cmd-delete"], st["current-jobs-delayed"])
	}
}

func TestTubesAndBuriedJobs(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, Put, 100)
	cfg.Tubes = 50
	cfg.Bury = 2
	cfg.Keep = true
	runOK(t, cfg)
	// 4 worker tubes with 25 puts each, 46 background tubes with one job
	// each, two buried jobs in bench-0, and the default tube.
	wantStats(t, addr, "stats", map[string]string{
		"current-tubes": "51", "current-jobs-ready": "146", "current-jobs-buried": "2", "cmd-put": "148",
	})
	wantStats(t, addr, "stats-tube bench-0", map[string]string{"current-jobs-ready": "25", "current-jobs-buried": "2"})
	wantStats(t, addr, "stats-tube bench-49", map[string]string{"current-jobs-ready": "1"})

	cfg.Keep = false
	runOK(t, cfg)
	wantStats(t, addr, "stats", map[string]string{"current-jobs-ready": "0", "current-jobs-buried": "4"})
}

func TestResultJSONHasTheDocumentedFields(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	res := runOK(t, testConfig(addr, Put, 10))
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"workload", "addr", "conns", "pipeline", "size", "tubes", "ops", "errors", "seconds", "ops_per_sec", "latency"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if m["workload"] != "put" || m["ops"] != 10.0 || m["addr"] != addr {
		t.Errorf("JSON workload %v ops %v addr %v", m["workload"], m["ops"], m["addr"])
	}
	lat := m["latency"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "count", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency JSON lacks %q: %s", k, b)
		}
	}
	if lat["p50_us"].(float64) <= 0 || lat["max_us"].(float64) < lat["p99_us"].(float64) {
		t.Errorf("latency figures out of order: %v", lat)
	}
}

func TestCompareAlternatesAndTakesMedians(t *testing.T) {
	t.Parallel()
	a, b := startBeanstalkd(t), startBeanstalkd(t)
	var order []string
	cmp, err := Compare(context.Background(), testConfig(a, Put, 200), b, 3, Labels{}, func(round int, r *Result) {
		order = append(order, strconv.Itoa(round)+r.Addr)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1" + a, "1" + b, "2" + a, "2" + b, "3" + a, "3" + b}
	if len(order) != len(want) {
		t.Fatalf("runs %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("runs %v, want %v", order, want)
		}
	}
	var ratios []float64
	for _, rd := range cmp.Rounds {
		if rd.Ratio != rd.A.OpsPerSec/rd.B.OpsPerSec {
			t.Fatalf("round ratio %v, want A/B %v", rd.Ratio, rd.A.OpsPerSec/rd.B.OpsPerSec)
		}
		ratios = append(ratios, rd.Ratio)
	}
	if cmp.MedianRatio != median(ratios) || cmp.MedianA.Errors != 0 {
		t.Fatalf("median %v of %v", cmp.MedianRatio, ratios)
	}
	wantStats(t, a, "stats", map[string]string{"cmd-put": "600"})
	wantStats(t, b, "stats", map[string]string{"cmd-put": "600"})
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRunAgainstNoServerFails(t *testing.T) {
	t.Parallel()
	cfg := testConfig("127.0.0.1:1", Put, 10)
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("Run against a closed port succeeded")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"unknown workload", func(c *Config) { c.Workload = "get" }},
		{"no address", func(c *Config) { c.Addr = "" }},
		{"zero conns", func(c *Config) { c.Conns = 0 }},
		{"zero pipeline", func(c *Config) { c.Pipeline = 0 }},
		{"negative size", func(c *Config) { c.Size = -1 }},
		{"size above max job size", func(c *Config) { c.Size = 65536 }},
		{"stamp does not fit", func(c *Config) { c.Workload = PutReserveDelete; c.Size = 18 }},
		{"zero tubes", func(c *Config) { c.Tubes = 0 }},
		{"prefix with space", func(c *Config) { c.TubePrefix = "a b" }},
		{"both duration and count", func(c *Config) { c.Count = 5 }},
		{"neither duration nor count", func(c *Config) { c.Duration = 0 }},
		{"fractional delay", func(c *Config) { c.Delay = 1500 * time.Millisecond }},
		{"short ttr", func(c *Config) { c.TTR = 0 }},
		{"event loop with a rate", func(c *Config) { c.EventLoop, c.Rate = true, 100 }},
		{"event loop with release-churn", func(c *Config) { c.EventLoop, c.Workload = true, ReleaseChurn }},
		{"event loop with put-reserve-delete", func(c *Config) { c.EventLoop, c.Workload = true, PutReserveDelete }},
		{"event loop with TLS", func(c *Config) { c.EventLoop, c.TLS = true, &tls.Config{MinVersion: tls.VersionTLS12} }},
		{"event loop with a body the buffer cannot hold", func(c *Config) { c.EventLoop, c.Size = true, maxLoopBody+1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate() = %v, want ErrConfig", err)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}
