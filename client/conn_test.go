package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/poll"
	"github.com/reprieve/reprieve/internal/servertest"
)

// eachServer runs f against a real beanstalkd and against Reprieve's own
// server in-process: the client must work the same with both.
func eachServer(t *testing.T, f func(t *testing.T, addr string)) {
	t.Run("beanstalkd", func(t *testing.T) {
		t.Parallel()
		f(t, servertest.StartDurableBeanstalkd(t).Addr)
	})
	t.Run("reprieve", func(t *testing.T) {
		t.Parallel()
		f(t, servertest.Start(t, nil).Addr)
	})
}

// dial starts a beanstalkd (or uses b) and returns a Conn closed at the end
// of the test.
func dial(t *testing.T, addr string) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnProducerWorkerCycle(t *testing.T) { eachServer(t, testConnProducerWorkerCycle) }

func testConnProducerWorkerCycle(t *testing.T, addr string) {
	ctx := context.Background()
	c := dial(t, addr)

	if err := c.Use(ctx, "emails"); err != nil {
		t.Fatal(err)
	}
	if used, err := c.ListTubeUsed(ctx); err != nil || used != "emails" {
		t.Fatalf("ListTubeUsed = %q, %v; want emails", used, err)
	}
	id, err := c.Put(ctx, []byte("hello\r\nworld"), 10, 0, time.Minute)
	if err != nil || id != 1 {
		t.Fatalf("Put = %d, %v; want 1, nil", id, err)
	}
	empty, err := c.Put(ctx, []byte{}, 5, 0, time.Minute)
	if err != nil || empty != 2 {
		t.Fatalf("Put empty = %d, %v; want 2, nil", empty, err)
	}
	if n, err := c.Watch(ctx, "emails"); err != nil || n != 2 {
		t.Fatalf("Watch = %d, %v; want 2", n, err)
	}
	if n, err := c.Ignore(ctx, "default"); err != nil || n != 1 {
		t.Fatalf("Ignore = %d, %v; want 1", n, err)
	}
	if _, err := c.Ignore(ctx, "emails"); !errors.Is(err, client.ErrNotIgnored) {
		t.Fatalf("Ignore last = %v; want ErrNotIgnored", err)
	}
	if w, err := c.ListTubesWatched(ctx); err != nil || fmt.Sprint(w) != "[emails]" {
		t.Fatalf("ListTubesWatched = %v, %v", w, err)
	}

	j, err := c.Reserve(ctx) // priority 5 first
	if err != nil || j.ID != 2 || len(j.Body) != 0 {
		t.Fatalf("Reserve = %+v, %v; want job 2 with an empty body", j, err)
	}
	if err := c.Touch(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx, 2, 100, 0); err != nil {
		t.Fatal(err)
	}
	j, err = c.ReserveWithTimeout(ctx, 0)
	if err != nil || j.ID != 1 || string(j.Body) != "hello\r\nworld" {
		t.Fatalf("ReserveWithTimeout = %+v, %v; want job 1 hello\\r\\nworld", j, err)
	}
	if err := c.Bury(ctx, 1, 7); err != nil {
		t.Fatal(err)
	}
	if p, err := c.PeekBuried(ctx); err != nil || p.ID != 1 {
		t.Fatalf("PeekBuried = %+v, %v", p, err)
	}
	if n, err := c.Kick(ctx, 10); err != nil || n != 1 {
		t.Fatalf("Kick = %d, %v; want 1", n, err)
	}
	if err := c.Delete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second Delete = %v; want ErrNotFound", err)
	}
	j, err = c.ReserveJob(ctx, 2)
	if err != nil || j.ID != 2 {
		t.Fatalf("ReserveJob = %+v, %v", j, err)
	}
	if _, err := c.ReserveWithTimeout(ctx, 0); !errors.Is(err, client.ErrTimedOut) {
		t.Fatalf("ReserveWithTimeout on an empty tube = %v; want ErrTimedOut", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, 2); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Delete after Quit = %v; want ErrClosed", err)
	}
}

func TestConnInspection(t *testing.T) { eachServer(t, testConnInspection) }

func testConnInspection(t *testing.T, addr string) {
	ctx := context.Background()
	c := dial(t, addr)

	ready, _ := c.Put(ctx, []byte("r"), 0, 0, time.Minute)
	delayed, _ := c.Put(ctx, []byte("d"), 0, time.Hour, time.Minute)
	for _, tc := range []struct {
		name string
		peek func(context.Context) (client.Job, error)
		want uint64
	}{
		{"ready", c.PeekReady, ready},
		{"delayed", c.PeekDelayed, delayed},
	} {
		if j, err := tc.peek(ctx); err != nil || j.ID != tc.want {
			t.Errorf("peek-%s = %+v, %v; want job %d", tc.name, j, err, tc.want)
		}
	}
	if _, err := c.PeekBuried(ctx); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("PeekBuried = %v; want ErrNotFound", err)
	}
	if j, err := c.Peek(ctx, delayed); err != nil || string(j.Body) != "d" {
		t.Errorf("Peek = %+v, %v", j, err)
	}
	if err := c.KickJob(ctx, delayed); err != nil {
		t.Errorf("KickJob delayed = %v", err)
	}
	if err := c.KickJob(ctx, delayed); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("KickJob of a ready job = %v; want ErrNotFound", err)
	}

	js, err := c.StatsJob(ctx, ready)
	if err != nil {
		t.Fatal(err)
	}
	if js.Text("tube") != "default" || js.Text("state") != "ready" {
		t.Errorf("stats-job tube/state = %q/%q", js.Text("tube"), js.Text("state"))
	}
	if ttr, err := js.Duration("ttr"); err != nil || ttr != time.Minute {
		t.Errorf("stats-job ttr = %v, %v; want 1m", ttr, err)
	}
	ts, err := c.StatsTube(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ts.Int("current-jobs-ready"); err != nil || n != 2 {
		t.Errorf("current-jobs-ready = %d, %v; want 2", n, err)
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Text("version"); v == "" || strings.ContainsRune(v, '"') {
		t.Errorf("version = %q; want it with its quotes removed", v)
	}
	if d, err := s.Bool("draining"); err != nil || d {
		t.Errorf("draining = %v, %v", d, err)
	}
	if _, err := s.Int("no-such-key"); !errors.Is(err, client.ErrStatsKey) {
		t.Errorf("missing key = %v; want ErrStatsKey", err)
	}
	if err := c.PauseTube(ctx, "default", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.PauseTube(ctx, "nowhere", time.Minute); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("PauseTube of a missing tube = %v; want ErrNotFound", err)
	}
	if _, err := c.StatsTube(ctx, "nowhere"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("StatsTube of a missing tube = %v; want ErrNotFound", err)
	}
	c.Use(ctx, "other")
	if tubes, err := c.ListTubes(ctx); err != nil || fmt.Sprint(tubes) != "[default other]" {
		t.Errorf("ListTubes = %v, %v", tubes, err)
	}
}

func TestConnErrorReplies(t *testing.T) { eachServer(t, testConnErrorReplies) }

func testConnErrorReplies(t *testing.T, addr string) {
	ctx := context.Background()
	c := dial(t, addr)

	_, err := c.Put(ctx, bytes.Repeat([]byte("x"), 65536), 0, 0, time.Second)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "JOB_TOO_BIG" || !errors.Is(err, client.ErrJobTooBig) {
		t.Fatalf("Put too big = %v; want *Error JOB_TOO_BIG", err)
	}
	err = c.Delete(ctx, 42)
	if got, want := err.Error(), "delete job 42 on "+addr+": client: not found"; got != want {
		t.Errorf("error = %q; want %q", got, want)
	}
	r, err := c.Do(ctx, client.Request{Line: "frobnicate"})
	if err != nil || r.Code != "UNKNOWN_COMMAND" {
		t.Errorf("Do unknown = %+v, %v", r, err)
	}
	if err := c.Use(ctx, "-bad"); !errors.Is(err, client.ErrBadTubeName) {
		t.Errorf("Use -bad = %v; want ErrBadTubeName", err)
	}
	// The connection is still usable after error replies.
	if _, err := c.Put(ctx, []byte("ok"), 0, 0, time.Second); err != nil {
		t.Errorf("Put after errors = %v", err)
	}
	// Last, as beanstalkd reads the stray byte as the next command.
	r, err = c.Do(ctx, client.Request{Line: "put 0 0 1 1", Body: []byte("xy"), WithBody: true})
	if err != nil || r.Code != "EXPECTED_CRLF" {
		t.Errorf("Do bad body = %+v, %v", r, err)
	}
}

// A context that ends while a reserve blocks closes the Conn, and the
// server gives the connection's reserved jobs back.
func TestConnContextInterruptsReserve(t *testing.T) { eachServer(t, testConnContextInterruptsReserve) }

func testConnContextInterruptsReserve(t *testing.T, addr string) {
	ctx := context.Background()
	worker := dial(t, addr)
	other := dial(t, addr)

	id, _ := other.Put(ctx, []byte("held"), 0, 0, time.Hour)
	if _, err := worker.Reserve(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() { _, err := worker.Reserve(cctx); errc <- err }()
	waitFor(t, other, "current-waiting", 1)
	cancel()
	if err := poll.Receive(t, "the cancelled reserve to return", errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve after cancel = %v; want context.Canceled", err)
	}
	if err := worker.Delete(ctx, id); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Delete on the interrupted Conn = %v; want ErrClosed", err)
	}
	j, err := other.ReserveWithTimeout(ctx, 5*time.Second)
	if err != nil || j.ID != id {
		t.Fatalf("job held by the closed Conn: Reserve = %+v, %v; want it ready again", j, err)
	}
	// An already ended context sends nothing and leaves the Conn usable.
	if _, err := other.Put(cctx, []byte("x"), 0, 0, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with an ended context = %v", err)
	}
	if err := other.Delete(ctx, id); err != nil {
		t.Fatalf("Delete after a refused request = %v", err)
	}
}

// Concurrent PutIn calls on one Conn are pipelined and land in their own
// tubes.
func TestConnPipelinedPutIn(t *testing.T) { eachServer(t, testConnPipelinedPutIn) }

func testConnPipelinedPutIn(t *testing.T, addr string) {
	ctx := context.Background()
	c := dial(t, addr)
	tubes := []string{"a", "b", "c"}
	const each = 200
	var wg sync.WaitGroup
	errs := make(chan error, len(tubes)*each)
	for _, tube := range tubes {
		for i := range each {
			wg.Go(func() {
				if _, err := c.PutIn(ctx, tube, fmt.Appendf(nil, "%s-%d", tube, i), 0, 0, time.Minute); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, tube := range tubes {
		s, err := c.StatsTube(ctx, tube)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Int("current-jobs-ready"); n != each {
			t.Errorf("tube %s holds %d jobs; want %d", tube, n, each)
		}
		c.Use(ctx, tube)
		for range each {
			j, err := c.PeekReady(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(j.Body, []byte(tube+"-")) {
				t.Fatalf("tube %s holds %q", tube, j.Body)
			}
			c.Delete(ctx, j.ID)
		}
	}
}

// waitFor polls the server's stats until key has the value want: the
// server, another process, is the only thing that can tell.
func waitFor(t *testing.T, c *client.Conn, key string, want int64) {
	t.Helper()
	for i := 0; ; i++ {
		s, err := c.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Int(key); n == want {
			return
		}
		if i == 1000 {
			t.Fatalf("stats %s stayed %s; want %d", key, s.Text(key), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnDeadlineSoon(t *testing.T) { eachServer(t, testConnDeadlineSoon) }

// A job reserved with a TTR of one second is within the one-second safety
// margin at once: the next reserve says DEADLINE_SOON.
func testConnDeadlineSoon(t *testing.T, addr string) {
	ctx := context.Background()
	c := dial(t, addr)
	id, _ := c.Put(ctx, []byte("short"), 0, 0, time.Second)
	if _, err := c.Reserve(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.ReserveWithTimeout(ctx, 5*time.Second)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "DEADLINE_SOON" || !errors.Is(err, client.ErrDeadlineSoon) {
		t.Fatalf("Reserve while holding a job about to time out = %v; want DEADLINE_SOON", err)
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatalf("Delete after DEADLINE_SOON = %v", err)
	}
	other := dial(t, addr)
	if err := other.Touch(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Touch of a job not held = %v; want ErrNotFound", err)
	}
}
