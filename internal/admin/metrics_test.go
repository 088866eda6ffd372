package admin_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/promtext"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
)

// parseExposition parses /metrics back strictly (promtext.Parse says what
// it checks) and fails the test on the first bad line.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	x, err := promtext.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return exposition{x}
}

// exposition is /metrics parsed back.
type exposition struct{ promtext.Exposition }

// want checks series values.
func (x exposition) want(t *testing.T, values map[string]float64) {
	t.Helper()
	for k, v := range values {
		got, ok := x.Series[k]
		if !ok {
			t.Errorf("no series %s", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

// TestMetrics parses /metrics back and checks the values of the server,
// tube, command and log families, and the escaping of label values.
func TestMetrics(t *testing.T) {
	logStats := wal.Stats{
		Policy: "interval", Fsyncs: 12, Batches: 7, Compactions: 2, CompactedBytes: 4096,
		Hot:    wal.StoreStats{Segments: 2, DiskBytes: 2 << 20, LiveBytes: 300, DeadBytes: 100, PerSegment: []wal.SegmentStats{{Num: 1}}},
		Buried: wal.StoreStats{Segments: 1, DiskBytes: 1 << 20, LiveBytes: 50},
	}
	e := start(t, options{config: func(c *admin.Config) {
		c.Refused = func() uint64 { return 7 }
		c.Binlog = func() server.BinlogStats {
			return server.BinlogStats{OldestIndex: 1, CurrentIndex: 2, RecordsWritten: 40, RecordsMigrated: 3, MaxSize: 1 << 20}
		}
		c.ExtraStats = func() []beanstalk.KeyValue {
			var kv []beanstalk.KeyValue
			for _, p := range logStats.StatsKeys() {
				kv = append(kv, beanstalk.KeyValue{Key: p[0], Value: p[1]})
			}
			return kv
		}
	}})
	c := e.dial(t)
	put(t, c, "mail", "a")
	put(t, c, "mail", "b")
	bury(t, c, "mail", "ccc", "smtp down")
	// A tube name the protocol would refuse, made on the engine directly,
	// to check the escaping of label values.
	weird := "we\"ird\\tube\nx"
	s := e.srv.Broker.Open()
	s.Use(weird)
	if _, err := s.Put(0, 0, time.Minute, []byte("x")); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := e.srv.Broker.PauseTube("mail", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(10 * time.Second)
	// A job of tube "run" waits 2s, runs 3s and is deleted.
	put(t, c, "run", "r")
	e.clk.Advance(2 * time.Second)
	ctx := context.Background()
	c.Watch(ctx, "run")
	j, err := c.ReserveWithTimeout(ctx, 0)
	if err != nil || string(j.Body) != "r" {
		t.Fatalf("reserve: %v %v", j, err)
	}
	e.clk.Advance(3 * time.Second)
	if err := c.Delete(ctx, j.ID); err != nil {
		t.Fatal(err)
	}

	r := e.do(t, "GET", "/metrics")
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics: %d %v", r.status, r.header)
	}
	if !strings.Contains(r.body, `reprieve_tube_jobs{tube="we\"ird\\tube\nx",state="ready"} 1`+"\n") {
		t.Errorf("the tube label is not escaped as the format says:\n%s", r.body)
	}
	x := parseExposition(t, r.body)
	q := strconv.Quote
	x.want(t, map[string]float64{
		`reprieve_jobs{state="ready"}`:                            3,
		`reprieve_jobs{state="buried"}`:                           1,
		`reprieve_jobs{state="reserved"}`:                         0,
		`reprieve_jobs_urgent`:                                    1,
		`reprieve_jobs_total`:                                     5,
		`reprieve_commands_total{cmd="put"}`:                      4,
		`reprieve_commands_total{cmd="fail"}`:                     1,
		`reprieve_commands_total{cmd="reserve-with-timeout"}`:     1,
		`reprieve_connections`:                                    2,
		`reprieve_connections_total`:                              2,
		`reprieve_connections_refused_total`:                      7,
		`reprieve_tubes`:                                          4,
		`reprieve_uptime_seconds`:                                 15,
		`reprieve_failures_total`:                                 1,
		`reprieve_gave_up_total`:                                  1,
		`reprieve_draining`:                                       0,
		`reprieve_tube_jobs{state="ready",tube="mail"}`:           2,
		`reprieve_tube_jobs{state="buried",tube="mail"}`:          1,
		`reprieve_tube_jobs{state="ready",tube=` + q(weird) + `}`: 1,
		`reprieve_tube_jobs_total{tube="mail"}`:                   3,
		`reprieve_tube_paused{tube="mail"}`:                       1,
		`reprieve_tube_pause_left_seconds{tube="mail"}`:           15,
		`reprieve_tube_paused{tube="default"}`:                    0,
		`reprieve_tube_failures_total{tube="mail"}`:               1,
		`reprieve_tube_buried_bytes{tube="mail"}`:                 3,
		`reprieve_tube_pauses_total{tube="mail"}`:                 1,
		`reprieve_log_records_written_total`:                      40,
		`reprieve_log_segment_max_bytes`:                          1 << 20,
		`reprieve_wal_fsyncs_total`:                               12,
		`reprieve_wal_compacted_bytes_total`:                      4096,
		`reprieve_wal_no_space`:                                   0,
		`reprieve_wal_disk_bytes{store="hot"}`:                    2 << 20,
		`reprieve_wal_disk_bytes{store="buried"}`:                 1 << 20,
		`reprieve_wal_live_bytes{store="hot"}`:                    300,
		`reprieve_wal_dead_bytes{store="hot"}`:                    100,
		`reprieve_wal_segments{store="buried"}`:                   1,

		`reprieve_tube_oldest_ready_age_seconds{tube="mail"}`:                     15,
		`reprieve_tube_oldest_ready_age_seconds{tube="run"}`:                      0,
		`reprieve_tube_wait_seconds_bucket{le="0.005",tube="mail"}`:               1,
		`reprieve_tube_wait_seconds_count{tube="mail"}`:                           1,
		`reprieve_tube_wait_seconds_bucket{le="1",tube="run"}`:                    0,
		`reprieve_tube_wait_seconds_bucket{le="2.5",tube="run"}`:                  1,
		`reprieve_tube_wait_seconds_bucket{le="+Inf",tube="run"}`:                 1,
		`reprieve_tube_wait_seconds_sum{tube="run"}`:                              2,
		`reprieve_tube_run_seconds_count{outcome="failed",tube="mail"}`:           1,
		`reprieve_tube_run_seconds_bucket{le="2.5",outcome="deleted",tube="run"}`: 0,
		`reprieve_tube_run_seconds_bucket{le="5",outcome="deleted",tube="run"}`:   1,
		`reprieve_tube_run_seconds_sum{outcome="deleted",tube="run"}`:             3,
	})
	if x.Types["reprieve_tube_wait_seconds"] != "histogram" || x.Series["go_goroutines"] < 1 ||
		x.Series["process_start_time_seconds"] < 1.7e9 || x.Series["process_open_fds"] < 3 || x.Series["process_resident_memory_bytes"] < 1<<20 {
		t.Errorf("histogram type or runtime and process metrics missing: types %v", x.Types)
	}
	if x.Types["reprieve_commands_total"] != "counter" || x.Types["reprieve_tube_jobs"] != "gauge" {
		t.Errorf("types: %v", x.Types)
	}
}

// TestMetricsWithoutLog leaves the log families out for a server kept in
// memory, and the command family out without a command source.
func TestMetricsWithoutLog(t *testing.T) {
	e := start(t, options{config: func(c *admin.Config) { c.Commands = nil }})
	x := parseExposition(t, e.do(t, "GET", "/metrics").body)
	for name := range x.Types {
		if strings.HasPrefix(name, "reprieve_wal_") || strings.HasPrefix(name, "reprieve_log_") || name == "reprieve_commands_total" {
			t.Errorf("family %s without its source", name)
		}
	}
	x.want(t, map[string]float64{`reprieve_tube_jobs{state="ready",tube="default"}`: 0})
}
