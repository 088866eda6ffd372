package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A server that stops for 400 ms during a paced run delays every put due
// meanwhile. Measured from the schedule, the ~400 puts due during the stall
// (of 1000) carry its wait: well over a tenth of them wait 100 ms or more.
// Measured from the actual send (coordinated omission), only the one put in
// flight would, and p90 would be the server's usual fraction of a
// millisecond.
func TestRateMeasuresLatencyFromTheSchedule(t *testing.T) {
	t.Parallel()
	addr, proc := startBeanstalkdProcess(t)
	cfg := testConfig(addr, Put, 1000)
	cfg.Conns, cfg.Pipeline, cfg.Rate = 1, 1, 1000
	stalled := make(chan error, 1)
	go func() {
		// The stall starts once the run is under way (100 puts in), not
		// at a fixed time after the test starts: on a loaded machine the
		// run may start late, and a stall before it would be shorter.
		if err := waitForPuts(addr, 100); err != nil {
			stalled <- err
			return
		}
		if err := proc.Signal(syscall.SIGSTOP); err != nil {
			stalled <- err
			return
		}
		time.Sleep(400 * time.Millisecond)
		stalled <- proc.Signal(syscall.SIGCONT)
	}()
	res := runOK(t, cfg)
	if err := <-stalled; err != nil {
		t.Fatalf("stop/continue beanstalkd: %v", err)
	}
	if res.Ops != 1000 || res.LatencyFrom != FromSchedule {
		t.Fatalf("ops %d latency from %q, want 1000 from %q", res.Ops, res.LatencyFrom, FromSchedule)
	}
	lat := res.Latency[0]
	if lat.P90 < 100_000 || lat.Max < 390_000 {
		t.Fatalf("p90 %.0f µs, max %.0f µs: want p90 ≥ 100 ms and max ≥ 390 ms after a 400 ms stall", lat.P90, lat.Max)
	}
	// 1000 puts at 1000/s take a second, whatever the stall.
	if res.Seconds < 0.99 {
		t.Fatalf("1000 puts at 1000/s took %.3fs", res.Seconds)
	}

	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "scheduled send time") || !strings.Contains(out.String(), "no coordinated omission") {
		t.Fatalf("text output does not say where latency starts:\n%s", out.String())
	}
}

// waitForPuts polls the server's stats until it has taken n puts.
func waitForPuts(addr string, n int) error {
	c, err := dial(context.Background(), addr, nil)
	if err != nil {
		return err
	}
	defer c.close()
	for {
		m, err := c.statsReply("stats")
		if err != nil {
			return err
		}
		if got, _ := strconv.Atoi(m["total-jobs"]); got >= n {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestLatencyFromSendWithoutRate(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	res := runOK(t, testConfig(addr, Put, 50))
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if res.LatencyFrom != FromSend || strings.Contains(out.String(), "scheduled") {
		t.Fatalf("latency from %q, text:\n%s", res.LatencyFrom, out.String())
	}
}

// The producers' schedules are offset so that their puts are evenly spread,
// and a schedule never slips: each put starts one interval after the last,
// however late it is sent.
func TestPacedScheduleIsEvenAndNeverSlips(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conns, cfg.Rate = 4, 4000 // 1 ms between the puts of one producer
	sh := &shared{base: time.Now()}
	var firsts []int64
	for i := range cfg.Conns {
		w := newWorker(&conn{w: bufio.NewWriter(io.Discard)}, sh, roleProducer, cfg, i, -1)
		firsts = append(firsts, w.nextAt)
		for k := range 3 {
			w.start(int64(10 * time.Second)) // sent 10 s late
			if got, want := w.ring[k].start, firsts[i]+int64(k)*int64(time.Millisecond); got != want {
				t.Fatalf("producer %d put %d starts at %d ns, want %d", i, k, got, want)
			}
		}
	}
	want := []int64{0, 250_000, 500_000, 750_000}
	for i := range want {
		if firsts[i] != want[i] {
			t.Fatalf("first puts at %v ns, want %v", firsts, want)
		}
	}
}

func TestCompareNamesTheServers(t *testing.T) {
	t.Parallel()
	a, b := startBeanstalkd(t), startBeanstalkd(t, "-b", t.TempDir())
	cmp, err := Compare(context.Background(), testConfig(a, Put, 20), b, 1, Labels{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.NameA != "beanstalkd 1.12, memory" || cmp.NameB != "beanstalkd 1.12, binlog" {
		t.Fatalf("names %q and %q", cmp.NameA, cmp.NameB)
	}
	var out bytes.Buffer
	if err := cmp.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A = " + a + " (beanstalkd 1.12, memory)", "B = " + b + " (beanstalkd 1.12, binlog)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
	cmp, err = Compare(context.Background(), testConfig(a, Put, 20), b, 1, Labels{B: "beanstalkd -b -f 0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.NameA != "beanstalkd 1.12, memory" || cmp.NameB != "beanstalkd -b -f 0" {
		t.Fatalf("names %q and %q with a label for B", cmp.NameA, cmp.NameB)
	}
}

func TestDescribeStats(t *testing.T) {
	for _, tt := range []struct {
		st   map[string]string
		want string
	}{
		{map[string]string{"version": `"0.1.0"`, "total-failures": "0", "wal-fsync-policy": "always"}, "reprieve 0.1.0, log fsync always"},
		{map[string]string{"version": `"0.1.0"`, "total-failures": "0", "binlog-current-index": "0"}, "reprieve 0.1.0, memory (--no-log)"},
		{map[string]string{"version": "1.12", "binlog-current-index": "3"}, "beanstalkd 1.12, binlog"},
		{map[string]string{"version": "1.12", "binlog-current-index": "0"}, "beanstalkd 1.12, memory"},
	} {
		if got := describeStats(tt.st); got != tt.want {
			t.Errorf("describeStats(%v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}
