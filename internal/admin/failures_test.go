package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/poll"
)

// deadLetterPolicy retries "mail" once, 10 s after its first failure, then
// moves it to the dead-letter tube "dead".
const deadLetterPolicy = `tubes:
  mail:
    retry: {initial: 10s, jitter: 0, max-attempts: 2}
    give-up: {action: dead-letter, tube: dead}
`

// deadLetter puts one job into mail on a connection of its own, fails it
// twice (a retry, then the dead-letter tube) and closes the connection,
// so that mail, empty and unwatched, is dropped; it waits until it is and
// returns the job's id. The clock reads epoch+10s at the first failure,
// +20s at the second and +25s when mail is dropped.
func deadLetter(t *testing.T, e *env) uint64 {
	t.Helper()
	p, err := policy.Parse("reprieve.yaml", []byte(deadLetterPolicy))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Broker.SetPolicies(p)
	ctx := context.Background()
	c, err := client.Dial(ctx, e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := put(t, c, "mail", "to: ann")
	if _, err := c.Watch(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(10 * time.Second)
	for i, want := range []string{client.FailRetry, client.FailDeadLetter} {
		if i > 0 {
			e.clk.Advance(10 * time.Second) // the retry's delay
		}
		j, err := c.ReserveJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := c.Fail(ctx, j.ID, fmt.Sprintf("smtp down (%d)", i+1)); err != nil || res.Action != want {
			t.Fatalf("fail %d of job %d: %v %v, want %s", i+1, id, res, err, want)
		}
	}
	e.clk.Advance(5 * time.Second)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "mail dropped once its last connection closed", func() bool {
		_, err := e.srv.Broker.StatsTube("mail")
		return err == broker.ErrNotFound
	})
	return id
}

// TestDeadLetterOriginAndKeptFailures checks the exact replies that show
// where a dead letter came from (its job, the dead-letter tube's buried
// list) and the failure counts of its tube, kept after the engine dropped
// the tube; and that the tube's histograms leave /metrics with it.
func TestDeadLetterOriginAndKeptFailures(t *testing.T) {
	e := start(t, options{})
	id := deadLetter(t, e)

	e.do(t, "GET", "/api/v1/failures").want(t, "failures", 200, `{
  "max-gone-tubes": 1000,
  "forgotten-tubes": 0,
  "tubes": [
    {
      "name": "mail",
      "exists": false,
      "dropped-at": "2026-03-01T12:00:25Z",
      "failures": 2,
      "retried": 1,
      "gave-up": 1,
      "buried": 0,
      "dead-lettered": 1,
      "deleted": 0,
      "expired": 0,
      "dead-letter-tube": "dead",
      "last-error": "smtp down (2)",
      "last-failure": "2026-03-01T12:00:20Z"
    }
  ]
}
`)
	jobJSON := fmt.Sprintf(`{
      "id": %d,
      "tube": "dead",
      "state": "buried",
      "pri": 1024,
      "age": 25,
      "delay": 10,
      "ttr": 60,
      "time-left": 0,
      "file": 0,
      "reserves": 2,
      "timeouts": 0,
      "releases": 0,
      "buries": 1,
      "kicks": 0,
      "size": 7,
      "failures": 2,
      "first-error": "smtp down (1)",
      "last-error": "smtp down (2)",
      "first-failure": "2026-03-01T12:00:10Z",
      "last-failure": "2026-03-01T12:00:20Z",
      "origin": "mail",
      "gave-up": "dead-letter dead",
      "revivals": 0,
      "last-revival": null
    }`, id)
	e.do(t, "GET", "/api/v1/tubes/dead/jobs").want(t, "buried jobs of dead", 200, `{
  "tube": "dead",
  "state": "buried",
  "jobs": [
    `+jobJSON+`
  ],
  "next_after": null
}
`)
	one := strings.ReplaceAll(jobJSON, "\n    ", "\n")
	one = strings.TrimSuffix(one, "\n}") + `,
  "body-encoding": "text",
  "body": "to: ann"
}
`
	e.do(t, "GET", fmt.Sprintf("/api/v1/jobs/%d", id)).want(t, "the dead letter", 200, one)

	r := e.do(t, "GET", "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", r.status)
	}
	x := parseExposition(t, r.body)
	for k := range x.Series {
		if strings.Contains(k, `tube="mail"`) {
			t.Errorf("series %s of the dropped tube mail is still served", k)
		}
	}
}

// TestKeptFailuresWhileTubeExists checks that a tube's histograms are
// served while it exists, and that a tube created again goes on counting
// from the failures kept while it was gone.
func TestKeptFailuresWhileTubeExists(t *testing.T) {
	e := start(t, options{})
	deadLetter(t, e)
	// Without a policy mail buries at the first failure.
	none, err := policy.Parse("reprieve.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Broker.SetPolicies(none)
	c := e.dial(t)
	bury(t, c, "mail", "again", "bounced")
	var f struct {
		Tubes []struct {
			Name         string `json:"name"`
			Exists       bool   `json:"exists"`
			DroppedAt    any    `json:"dropped-at"`
			Failures     uint64 `json:"failures"`
			GaveUp       uint64 `json:"gave-up"`
			DeadLettered uint64 `json:"dead-lettered"`
			Buried       uint64 `json:"buried"`
			LastError    string `json:"last-error"`
		} `json:"tubes"`
	}
	e.do(t, "GET", "/api/v1/failures").decode(t, &f)
	if len(f.Tubes) != 1 {
		t.Fatalf("failures: %+v", f)
	}
	got := f.Tubes[0]
	if got.Name != "mail" || !got.Exists || got.DroppedAt != nil || got.Failures != 3 || got.GaveUp != 2 ||
		got.DeadLettered != 1 || got.Buried != 1 || got.LastError != "bounced" {
		t.Errorf("mail created again: %+v; want it live, 3 failures, 2 give-ups (1 dead-lettered, 1 buried), last error bounced", got)
	}
	x := parseExposition(t, e.do(t, "GET", "/metrics").body)
	x.want(t, map[string]float64{
		`reprieve_tube_wait_seconds_count{tube="mail"}`:                 1,
		`reprieve_tube_run_seconds_count{outcome="failed",tube="mail"}`: 1,
	})
}

// TestObserverForgetsOldestGoneTube checks the bound on remembered tubes:
// with room for two, the third dropped tube makes the Observer forget the
// one dropped first; a tube that never failed is not remembered at all.
func TestObserverForgetsOldestGoneTube(t *testing.T) {
	o := admin.NewObserver(2)
	at := epoch
	for _, name := range []string{"a", "b", "quiet", "c"} {
		tube := o.Tube(name)
		tube.Reserved(time.Second)
		if name != "quiet" {
			tube.Failed(broker.FailEvent{Action: broker.FailBuried, Error: "x", At: at})
		}
		at = at.Add(time.Second)
		tube.Dropped(at)
	}
	tubes, forgotten := o.Failures()
	var names []string
	for _, f := range tubes {
		names = append(names, fmt.Sprintf("%s exists=%v dropped=%s", f.Tube, f.Exists, f.DroppedAt.Sub(epoch)))
	}
	if got, want := strings.Join(names, "; "), "b exists=false dropped=2s; c exists=false dropped=4s"; got != want || forgotten != 1 {
		t.Errorf("remembered %q, forgot %d; want %q, forgot 1", got, forgotten, want)
	}
	// b created and dropped again: it is now the newest, so one more drop
	// forgets c.
	o.Tube("b").Dropped(at.Add(time.Second))
	d := o.Tube("d")
	d.Failed(broker.FailEvent{Action: broker.FailDeleted, At: at})
	d.Dropped(at.Add(2 * time.Second))
	tubes, forgotten = o.Failures()
	names = names[:0]
	for _, f := range tubes {
		names = append(names, f.Tube)
	}
	if got := strings.Join(names, ","); got != "b,d" || forgotten != 2 {
		t.Errorf("after b was dropped again and d dropped: remembered %s, forgot %d; want b,d, forgot 2", got, forgotten)
	}
}

// TestKeptFailuresOfTubeEmptiedByExpiry checks a tube that its own
// give-up empties and drops, nobody watching it: its one job expires
// unreserved into the dead-letter tube, and the counts of gps are kept
// although the engine dropped gps before it reported the give-up.
func TestKeptFailuresOfTubeEmptiedByExpiry(t *testing.T) {
	e := start(t, options{})
	p, err := policy.Parse("reprieve.yaml", []byte("tubes:\n  gps:\n    ready-expiry: 10s\n    give-up: {action: dead-letter, tube: stale}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Broker.SetPolicies(p)
	s := e.srv.Broker.Open()
	s.Use("gps")
	if _, err := s.Put(0, 0, time.Minute, []byte("fix")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.clk.Advance(10 * time.Second)
	poll.Until(t, "gps expired into stale and dropped", func() bool {
		_, err := e.srv.Broker.StatsTube("gps")
		return err == broker.ErrNotFound
	})
	e.do(t, "GET", "/api/v1/failures").want(t, "failures", 200, `{
  "max-gone-tubes": 1000,
  "forgotten-tubes": 0,
  "tubes": [
    {
      "name": "gps",
      "exists": false,
      "dropped-at": "2026-03-01T12:00:10Z",
      "failures": 0,
      "retried": 0,
      "gave-up": 1,
      "buried": 0,
      "dead-lettered": 1,
      "deleted": 0,
      "expired": 1,
      "dead-letter-tube": "stale",
      "last-error": "ready-expiry: not reserved within 10s",
      "last-failure": "2026-03-01T12:00:10Z"
    }
  ]
}
`)
}
