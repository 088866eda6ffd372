package module

import (
	"context"
	"fmt"
	"github.com/reprieve/reprieve/internal/poll"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/servertest"
)

// attemptPipeline runs input.tube into a process.exec that writes its
// REPRIEVE_ATTEMPT to a file and fails; it returns the file.
func attemptPipeline(t *testing.T, addr string) (file string, stop func() error) {
	file = filepath.Join(t.TempDir(), "attempts")
	_, stop = run(t, fmt.Sprintf(`
modules:
  in: {module: input.tube, arguments: {address: "%s", tubes: [work], release_delay: 0}}
  handler: {module: process.exec, arguments: {command: sh, args: ["-c", "echo $REPRIEVE_ATTEMPT >> %s; exit 1"]}}
routingtable:
  - in.outbox -> handler.inbox
`, addr, file), clock.Real(), nil)
	return file, stop
}

// TestTubeInAttempts: process.exec behind input.tube sees the server's
// attempt count, 1 on the first try: on Reprieve the job's failures plus
// one (its retries come on the tube's schedule, on a fake clock), on
// beanstalkd its reserves.
func TestTubeInAttempts(t *testing.T) {
	t.Run("reprieve", func(t *testing.T) {
		set, err := policy.Parse("p.yaml", []byte("tubes:\n  work:\n    retry: {initial: 10s, factor: 1, jitter: 0, max-attempts: 3, max-age: 0}\n"))
		if err != nil {
			t.Fatal(err)
		}
		fc := clock.NewFake(time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC))
		srv := servertest.Start(t, &servertest.Options{Broker: broker.Config{Clock: fc, Policies: set}})
		putJob(t, srv.Addr)
		file, stop := attemptPipeline(t, srv.Addr)
		for n := 1; n <= 2; n++ {
			poll.Until(t, fmt.Sprintf("try %d", n), func() bool { return len(readLines(t, file)) == n && delayed(t, srv.Addr) })
			fc.Advance(10 * time.Second)
		}
		poll.Until(t, "the give-up", func() bool { return buried(t, srv.Addr) })
		stop()
		if got := strings.Join(readLines(t, file), ","); got != "1,2,3" {
			t.Fatalf("REPRIEVE_ATTEMPT was %s, want 1,2,3", got)
		}
	})
	t.Run("beanstalkd", func(t *testing.T) {
		addr := servertest.StartDurableBeanstalkd(t).Addr
		putJob(t, addr)
		file, stop := attemptPipeline(t, addr)
		poll.Until(t, "three tries", func() bool { return len(readLines(t, file)) >= 3 })
		stop()
		if got := strings.Join(readLines(t, file)[:3], ","); got != "1,2,3" {
			t.Fatalf("REPRIEVE_ATTEMPT was %s, want 1,2,3 first", got)
		}
	})
}

// putJob puts one job into tube work at addr.
func putJob(t *testing.T, addr string) {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutIn(context.Background(), "work", []byte("x"), 0, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// jobState reads the state of job 1 at addr ("" if it cannot).
func jobState(t *testing.T, addr string) string {
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	st, err := c.StatsJob(context.Background(), 1)
	if err != nil {
		return ""
	}
	return st["state"]
}

func delayed(t *testing.T, addr string) bool { return jobState(t, addr) == "delayed" }
func buried(t *testing.T, addr string) bool  { return jobState(t, addr) == "buried" }
