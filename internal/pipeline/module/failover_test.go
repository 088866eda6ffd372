package module

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
)

// failoverConfig is examples/failover.yaml with test ports, a temporary
// buffer directory and short intervals.
func failoverConfig(t *testing.T, ports [3]int, buffer string) string {
	b, err := os.ReadFile("../../../examples/failover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, r := range [][2]string{
		{"interval: 0.5", "interval: 0.002\n      id_prefix: fo"},
		{"port: 10001", fmt.Sprintf("port: %d", ports[0])},
		{"port: 10002", fmt.Sprintf("port: %d", ports[1])},
		{"port: 10003", fmt.Sprintf("port: %d", ports[2])},
		{"directory: ./buffer\n      idle_trigger", "directory: " + buffer + "\n      poll_interval: 0.02\n      idle_trigger"},
		{"directory: ./buffer", "directory: " + buffer + "\n      interval: 0.02"},
		{"idle_time: 20", "idle_time: 0.3"},
	} {
		if !strings.Contains(src, r[0]) {
			t.Fatalf("examples/failover.yaml no longer contains %q", r[0])
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	return src
}

// Seed 000's failover strategy, run for real: three loopback listeners, the
// generator feeding them through failed queues, a disk buffer behind them
// that drains back through the funnel.
func TestFailoverExample(t *testing.T) {
	servers := [3]*lineServer{newLineServer(t), newLineServer(t), newLineServer(t)}
	buffer := filepath.Join(t.TempDir(), "buffer")
	src := failoverConfig(t, [3]int{servers[0].port, servers[1].port, servers[2].port}, buffer)
	p, stop := run(t, src, clock.Real(), nil)
	generated := func() uint64 { return queueStats(p, "dictgenerator", "outbox").Out }

	// 1. All up: messages arrive at output_1.
	poll.Until(t, "messages at listener 1", func() bool { return servers[0].count() >= 20 })
	if servers[1].count()+servers[2].count() != 0 {
		t.Fatalf("listeners 2 and 3 got messages while 1 was up")
	}

	// 2. Stop listener 1: messages arrive at listener 2.
	servers[0].stop()
	at1 := servers[0].count()
	poll.Until(t, "messages at listener 2", func() bool { return servers[1].count() >= 20 })
	if servers[0].count() != at1 {
		t.Fatalf("listener 1 received after it stopped")
	}

	// 3. Stop them all: messages go to the disk buffer.
	servers[1].stop()
	servers[2].stop()
	downFrom := generated()
	poll.Until(t, "buffered messages", func() bool { return moduleStats(p, "diskout").Handled >= 30 })
	poll.Until(t, "a buffer file", func() bool {
		m, _ := filepath.Glob(filepath.Join(buffer, "*.ready"))
		return len(m) > 0
	})
	// 4. Restore listener 1: new messages go there, and once the buffer has
	// been quiet for idle_time it drains back through the funnel.
	servers[0].start()
	upFrom := generated()
	poll.Until(t, "the buffer to drain", func() bool {
		m, _ := filepath.Glob(filepath.Join(buffer, "*.ready"))
		return len(m) == 0 && moduleStats(p, "diskin").Handled == 0 && queueStats(p, "diskin", "outbox").Out > 0 &&
			p.InFlight() == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Every generated id arrived somewhere; count duplicates.
	total := generated()
	arrived := map[string]int{}
	for _, s := range servers {
		for _, id := range s.received() {
			arrived[id]++
		}
	}
	dups := 0
	for _, n := range arrived {
		dups += n - 1
	}
	var missing []string
	for i := uint64(1); i <= total; i++ {
		if arrived[fmt.Sprintf("fo-%d", i)] == 0 {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	t.Logf("generated %d; listener 1: %d, listener 2: %d, listener 3: %d; buffered %d and drained %d; duplicates %d",
		total, servers[0].count(), servers[1].count(), servers[2].count(),
		moduleStats(p, "diskout").Handled, queueStats(p, "diskin", "outbox").Out, dups)
	if len(missing) > 0 {
		t.Fatalf("%d of %d generated messages never arrived: %v", len(missing), total, missing)
	}
	if len(arrived) != int(total) {
		t.Fatalf("%d distinct ids arrived, %d generated", len(arrived), total)
	}
	// Messages generated while everything was down reached listener 1 from
	// the buffer (listeners 2 and 3 stayed down).
	got1 := map[string]bool{}
	for _, id := range servers[0].received() {
		got1[id] = true
	}
	for i := downFrom + 5; i < upFrom; i++ {
		if !got1[fmt.Sprintf("fo-%d", i)] {
			t.Fatalf("message fo-%d, generated while all were down, did not come back to listener 1", i)
		}
	}
	if dups != 0 {
		t.Errorf("%d duplicates: confirmed delivery should not repeat messages", dups)
	}
}
