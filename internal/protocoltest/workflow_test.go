package protocoltest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
)

// Workflow tests: the real client github.com/beanstalkd/go-beanstalk used
// as applications use it, against Reprieve and against beanstalkd.

func dialClient(t *testing.T, addr string) *beanstalk.Conn {
	t.Helper()
	c, err := beanstalk.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// must returns a checker for a call's value and error: must(t).id(c.Put(...)).
func must(t *testing.T) checker { return checker{t} }

type checker struct{ t *testing.T }

func (c checker) check(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c checker) id(v uint64, err error) uint64 { c.t.Helper(); c.check(err); return v }
func (c checker) n(v int, err error) int        { c.t.Helper(); c.check(err); return v }
func (c checker) stats(v map[string]string, err error) map[string]string {
	c.t.Helper()
	c.check(err)
	return v
}
func (c checker) names(v []string, err error) []string { c.t.Helper(); c.check(err); return v }
func (c checker) job(id uint64, body []byte, err error) (uint64, []byte) {
	c.t.Helper()
	c.check(err)
	return id, body
}

var workflows = []struct {
	name string
	run  func(t *testing.T, addr string)
}{
	{"ProducersAndWorkers", func(t *testing.T, addr string) {
		const producers, perProducer, workers = 4, 50, 3
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := beanstalk.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				tube := beanstalk.NewTube(c, "emails")
				for i := 0; i < perProducer; i++ {
					if _, err := tube.Put([]byte(fmt.Sprintf("%d-%d", p, i)), 100, 0, time.Minute); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		seen := make(chan string, producers*perProducer)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := beanstalk.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				ts := beanstalk.NewTubeSet(c, "emails")
				for {
					id, body, err := ts.Reserve(time.Second)
					if errors.Is(err, beanstalk.ErrTimeout) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					if err := c.Delete(id); err != nil {
						t.Error(err)
						return
					}
					seen <- string(body)
				}
			}()
		}
		wg.Wait()
		close(seen)
		got := map[string]bool{}
		for s := range seen {
			if got[s] {
				t.Fatalf("job %s delivered twice", s)
			}
			got[s] = true
		}
		if len(got) != producers*perProducer {
			t.Fatalf("%d jobs done, want %d", len(got), producers*perProducer)
		}
	}},
	{"BuryInspectKick", func(t *testing.T, addr string) {
		c := dialClient(t, addr)
		tube := beanstalk.NewTube(c, "work")
		id := must(t).id(tube.Put([]byte("fragile"), 10, 0, time.Minute))
		ts := beanstalk.NewTubeSet(c, "work")
		rid, body := must(t).job(ts.Reserve(0))
		if rid != id || string(body) != "fragile" {
			t.Fatalf("reserved %d %q", rid, body)
		}
		if err := c.Bury(id, 20); err != nil {
			t.Fatal(err)
		}
		bid, _ := must(t).job(tube.PeekBuried())
		st := must(t).stats(c.StatsJob(id))
		if bid != id || st["state"] != "buried" || st["pri"] != "20" || st["tube"] != "work" {
			t.Fatalf("buried job %d: %v", bid, st)
		}
		if _, _, err := ts.Reserve(0); !errors.Is(err, beanstalk.ErrTimeout) {
			t.Fatalf("reserve with only a buried job: %v", err)
		}
		if n := must(t).n(tube.Kick(10)); n != 1 {
			t.Fatalf("kicked %d", n)
		}
		rid, _ = must(t).job(ts.Reserve(0))
		if err := c.Delete(rid); err != nil || rid != id {
			t.Fatalf("delete %d: %v", rid, err)
		}
	}},
	{"ReleaseWithDelayAndKickJob", func(t *testing.T, addr string) {
		c := dialClient(t, addr)
		id := must(t).id(c.Put([]byte("retry me"), 1, 0, time.Minute))
		ts := beanstalk.NewTubeSet(c, "default")
		must(t).job(ts.Reserve(0))
		if err := c.Release(id, 5, time.Hour); err != nil {
			t.Fatal(err)
		}
		did, _ := must(t).job(beanstalk.NewTube(c, "default").PeekDelayed())
		if did != id {
			t.Fatalf("peek-delayed %d", did)
		}
		if err := c.KickJob(id); err != nil {
			t.Fatal(err)
		}
		rid, body := must(t).job(ts.Reserve(0))
		if rid != id || string(body) != "retry me" {
			t.Fatalf("reserved %d %q", rid, body)
		}
		st := must(t).stats(c.StatsJob(id))
		if st["releases"] != "1" || st["kicks"] != "1" || st["reserves"] != "2" {
			t.Fatalf("stats-job %v", st)
		}
		if err := c.Touch(id); err != nil {
			t.Fatal(err)
		}
	}},
	{"ErrorsAsTheClientSeesThem", func(t *testing.T, addr string) {
		c := dialClient(t, addr)
		if err := c.Delete(12345); !errors.Is(err, beanstalk.ErrNotFound) {
			t.Fatalf("delete: %v", err)
		}
		if _, err := c.Peek(12345); !errors.Is(err, beanstalk.ErrNotFound) {
			t.Fatalf("peek: %v", err)
		}
		if _, err := c.Put(make([]byte, 70000), 0, 0, time.Minute); !errors.Is(err, beanstalk.ErrJobTooBig) {
			t.Fatalf("put too big: %v", err)
		}
		// The connection survives.
		if _, err := c.Put([]byte("ok"), 0, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		ts := beanstalk.NewTubeSet(c, "default")
		must(t).job(ts.Reserve(0))
		if _, _, err := ts.Reserve(0); !errors.Is(err, beanstalk.ErrTimeout) {
			t.Fatalf("reserve: %v", err)
		}
	}},
	{"StatsAndTubes", func(t *testing.T, addr string) {
		c := dialClient(t, addr)
		tube := beanstalk.NewTube(c, "metrics")
		must(t).id(tube.Put([]byte("a"), 0, 0, time.Minute))
		tubes := must(t).names(c.ListTubes())
		if fmt.Sprint(tubes) != "[default metrics]" {
			t.Fatalf("tubes %v", tubes)
		}
		ts := must(t).stats(tube.Stats())
		if ts["current-jobs-ready"] != "1" || ts["total-jobs"] != "1" {
			t.Fatalf("stats-tube %v", ts)
		}
		st := must(t).stats(c.Stats())
		if st["total-jobs"] != "1" || st["current-tubes"] != "2" || st["cmd-put"] != "1" {
			t.Fatalf("stats %v", st)
		}
		if err := tube.Pause(time.Hour); err != nil {
			t.Fatal(err)
		}
		if must(t).stats(tube.Stats())["pause"] != "3600" {
			t.Fatal("pause not in stats-tube")
		}
	}},
}

func runWorkflows(t *testing.T, start Starter) {
	for _, w := range workflows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			w.run(t, start(t, Config{}).Addr)
		})
	}
}

func TestWorkflowReprieve(t *testing.T)   { runWorkflows(t, startReprieve) }
func TestWorkflowBeanstalkd(t *testing.T) { runWorkflows(t, startBeanstalkd) }
