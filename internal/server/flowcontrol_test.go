package server_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	beanstalk "github.com/beanstalkd/go-beanstalk"
)

// dialTube opens a go-beanstalk connection watching and using tube.
func dialTube(t *testing.T, addr, tube string) (*beanstalk.Conn, *beanstalk.TubeSet, *beanstalk.Tube) {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, beanstalk.NewTubeSet(c, tube), beanstalk.NewTube(c, tube)
}

func tubeStat(t *testing.T, c *beanstalk.Conn, tube, key string) int {
	t.Helper()
	st, err := beanstalk.NewTube(c, tube).Stats()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(st[key])
	if err != nil {
		t.Fatalf("stats-tube %s: %s = %q", tube, key, st[key])
	}
	return n
}

// TestConcurrencyLimitAcrossConnections: a concurrency limit of 3 held
// over 20 go-beanstalk connections: 3 reserve, the other 17 are refused
// (TIMED_OUT) and counted; then 20 workers drain 60 jobs, each delivered
// once, never more than 3 out (sampled by stats-tube meanwhile).
func TestConcurrencyLimitAcrossConnections(t *testing.T) {
	e := startEnv(t, "tubes:\n  work:\n    concurrency: 3\n")
	admin, _, put := dialTube(t, e.srv.Addr, "work")
	const jobs = 60
	for i := 0; i < jobs; i++ {
		if _, err := put.Put([]byte(fmt.Sprint(i)), 0, 0, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	var held []uint64
	var holders []*beanstalk.Conn
	for i := 0; i < 20; i++ {
		c, ts, _ := dialTube(t, e.srv.Addr, "work")
		id, _, err := ts.Reserve(0)
		switch {
		case i < 3 && err != nil:
			t.Fatalf("connection %d: reserve: %v", i, err)
		case i < 3:
			held = append(held, id)
			holders = append(holders, c)
		case !errors.Is(err, beanstalk.ErrTimeout):
			t.Fatalf("connection %d with 3 out: %v, want TIMED_OUT", i, err)
		}
	}
	if n := tubeStat(t, admin, "work", "current-jobs-reserved"); n != 3 {
		t.Fatalf("current-jobs-reserved %d", n)
	}
	if n := tubeStat(t, admin, "work", "total-held-by-concurrency"); n != 17 {
		t.Fatalf("total-held-by-concurrency %d, want 17", n)
	}
	if st, _ := beanstalk.NewTube(admin, "work").Stats(); st["limit-concurrency"] != "3" {
		t.Fatalf("limit-concurrency %q", st["limit-concurrency"])
	}
	// 20 workers block on the tube (the fake clock never times them out);
	// the holders delete their jobs, and the workers drain the rest.
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	var workers []*beanstalk.Conn
	for w := 0; w < 20; w++ {
		c, ts, _ := dialTube(t, e.srv.Addr, "work")
		workers = append(workers, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id, _, err := ts.Reserve(time.Hour)
				if err != nil {
					return // the test closed the connection
				}
				mu.Lock()
				dup := seen[id]
				mu.Unlock()
				if dup {
					t.Errorf("job %d delivered twice", id)
				}
				if err := c.Delete(id); err != nil {
					t.Errorf("delete %d: %v", id, err)
					return
				}
				// Counted once deleted: the test closes the connections
				// only after every job is done.
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	for i, id := range held {
		if err := holders[i].Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n := tubeStat(t, admin, "work", "current-jobs-reserved"); n > 3 {
			t.Errorf("%d jobs out, limit 3", n)
		}
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == jobs-3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs delivered within 30 s", n, jobs-3)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range workers {
		c.Close()
	}
	wg.Wait()
	for _, id := range held {
		if seen[id] {
			t.Fatalf("held job %d delivered to another connection", id)
		}
	}
	if n := tubeStat(t, admin, "work", "total-jobs"); n != jobs {
		t.Fatalf("total-jobs %d", n)
	}
}

// TestUniquePutOverTheWire: go-beanstalk's put of a duplicate body gets
// the first job's id, and stats-tube counts it.
func TestUniquePutOverTheWire(t *testing.T) {
	e := startEnv(t, "tubes:\n  u:\n    unique: {key: json:order}\n")
	c, ts, tube := dialTube(t, e.srv.Addr, "u")
	first, err := tube.Put([]byte(`{"order": 42, "try": 1}`), 0, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	again, err := tube.Put([]byte(`{"order": 42, "try": 2}`), 0, 0, time.Minute)
	if err != nil || again != first {
		t.Fatalf("duplicate put: %d, %v; want %d", again, err, first)
	}
	other, err := tube.Put([]byte(`{"order": 43}`), 0, 0, time.Minute)
	if err != nil || other == first {
		t.Fatalf("other put: %d, %v", other, err)
	}
	if n := tubeStat(t, c, "u", "total-duplicates"); n != 1 {
		t.Fatalf("total-duplicates %d", n)
	}
	if n := tubeStat(t, c, "u", "total-jobs"); n != 2 {
		t.Fatalf("total-jobs %d", n)
	}
	id, body, err := ts.Reserve(0)
	if err != nil || id != first || string(body) != `{"order": 42, "try": 1}` {
		t.Fatalf("reserve: %d %q %v", id, body, err)
	}
}
