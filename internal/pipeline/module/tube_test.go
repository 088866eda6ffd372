package module

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
)

// output.tube puts jobs into a real server; input.tube reserves them and
// deletes the ones whose message was delivered. The ones that failed are
// reported with fail on Reprieve (a tube with no policy buries them) and
// released on beanstalkd, which has no fail command.
func TestTubeOutAndIn(t *testing.T) {
	t.Run("beanstalkd", func(t *testing.T) {
		testTubeOutAndIn(t, servertest.StartDurableBeanstalkd(t).Addr, "current-jobs-delayed")
	})
	t.Run("reprieve", func(t *testing.T) {
		testTubeOutAndIn(t, servertest.Start(t, nil).Addr, "current-jobs-buried")
	})
}

// testTubeOutAndIn runs the pipeline against addr; failedState is the
// stats-tube key that must count the ten failed jobs. The puts may take a
// minute (output.tube's default is 5s): on a loaded machine a put slower
// than its timeout is a message dropped, and the test would wait for its
// job in vain.
func testTubeOutAndIn(t *testing.T, addr, failedState string) {
	ctx := context.Background()
	_, stop := run(t, fmt.Sprintf(`
modules:
  gen: {module: input.generator, arguments: {interval: 0, count: 20, id_prefix: job}}
  put: {module: output.tube, arguments: {address: "%s", tube: work, timeout: 1m}}
routingtable:
  - gen.outbox -> put.inbox
`, addr), clock.Real(), nil)
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ready := func() int64 {
		s, err := c.StatsTube(ctx, "work")
		if err != nil {
			return -1
		}
		n, _ := s.Int("current-jobs-ready")
		return n
	}
	poll.Until(t, "20 jobs", func() bool { return ready() == 20 })
	stop()

	// Even-numbered jobs succeed, odd ones fail in the handler.
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	p, stop := run(t, fmt.Sprintf(`
modules:
  in: {module: input.tube, arguments: {address: "%s", tubes: [work], release_delay: 600, max_in_flight: 4}}
  handler: {module: process.exec, arguments: {command: sh, args: ["-c", "grep -q '\"seq\":[0-9]*[02468],'"]}}
  done: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> handler.inbox
  - handler.successful -> done.inbox
`, addr, out), clock.Real(), nil)
	poll.Until(t, "20 jobs handled", func() bool {
		s := moduleStats(p, "handler")
		return s.Handled+s.Failed == 20
	})
	poll.Until(t, "jobs settled", func() bool {
		s, err := c.StatsTube(ctx, "work")
		if err != nil {
			return false
		}
		delayed, _ := s.Int(failedState)
		reserved, _ := s.Int("current-jobs-reserved")
		total, _ := s.Int("total-jobs")
		return delayed == 10 && reserved == 0 && total == 20
	})
	stop()
	s, _ := c.StatsTube(ctx, "work")
	if n, _ := s.Int("cmd-delete"); n != 10 {
		t.Fatalf("cmd-delete = %d, want 10", n)
	}
	var seqs []string
	for _, l := range readLines(t, out) {
		i := strings.Index(l, `"seq":`)
		seqs = append(seqs, strings.SplitN(l[i+6:], ",", 2)[0])
	}
	sort.Strings(seqs)
	if strings.Join(seqs, ",") != "10,12,14,16,18,2,20,4,6,8" {
		t.Fatalf("delivered %v", seqs)
	}
	_ = time.Second
}

// A job that stays in the pipeline longer than its TTR is touched when the
// server warns DEADLINE_SOON, so it is not handed out again meanwhile.
func TestTubeInTouchesSlowJobs(t *testing.T) {
	addr := servertest.StartDurableBeanstalkd(t).Addr
	ctx := context.Background()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutIn(ctx, "slow", []byte("x"), 0, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, stop := run(t, fmt.Sprintf(`
modules:
  in: {module: input.tube, arguments: {address: "%s", tubes: [slow]}}
  handler: {module: process.exec, arguments: {command: sleep, args: ["1.5"]}}
  done: {module: output.file, arguments: {path: %s}}
routingtable:
  - in.outbox -> handler.inbox
  - handler.successful -> done.inbox
`, addr, filepath.Join(dir, "out")), clock.Real(), nil)
	poll.Until(t, "the slow job to finish", func() bool { return moduleStats(p, "handler").Handled == 1 })
	poll.Until(t, "the job to be deleted", func() bool {
		s, err := c.StatsTube(ctx, "slow")
		n, _ := s.Int("current-jobs-reserved")
		return err == nil && n == 0
	})
	stop()
	s, _ := c.StatsTube(ctx, "slow")
	if n, _ := s.Int("cmd-delete"); n != 1 {
		t.Fatalf("cmd-delete = %d", n)
	}
	js, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := js.Int("job-timeouts"); n != 0 {
		t.Fatalf("job-timeouts = %d: the job's TTR ran out while it was in the pipeline", n)
	}
	if n, _ := js.Int("cmd-touch"); n < 1 {
		t.Fatalf("cmd-touch = %d", n)
	}
}
