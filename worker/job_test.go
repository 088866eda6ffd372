package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/worker"
)

// TestJobFromClaim checks what a handler sees of a job on Reprieve, where
// it comes with the claim: id, tube, body, priority, TTR, attempt 1 and a
// history that is empty but for the origin, with no stats-job sent. A job
// with a history (failed, buried, kicked: a new series, so attempt 1
// again) costs one stats-job, and its handler sees that history.
func TestJobFromClaim(t *testing.T) {
	addr := reprieve(t, "", nil)
	seen := make(chan *worker.Job, 2)
	start(t, worker.Config{Addrs: []string{addr}}, func(w *worker.Worker) {
		w.Handle("mail", func(ctx context.Context, j *worker.Job) error {
			seen <- j
			if j.History.Revivals == 0 {
				return errors.New("smtp down")
			}
			return nil
		}, worker.TubeOptions{})
	})
	c := dial(t, addr)
	id := put(t, c, "mail", "hello", time.Minute) // priority 100
	j := recv(t, seen, "the first try")
	if n := statsJobs(t, c); n != 0 {
		t.Errorf("cmd-stats-job %d on the first try, want 0: it all came with the claim", n)
	}
	want := worker.Job{ID: id, Tube: "mail", Body: []byte("hello"), Attempt: 1, History: client.FailureHistory{Origin: "mail"},
		Server: addr, Priority: 100, TTR: time.Minute}
	if j.ID != want.ID || j.Tube != want.Tube || string(j.Body) != "hello" || j.Attempt != 1 || j.History != want.History ||
		j.Server != want.Server || j.Priority != want.Priority || j.TTR != want.TTR {
		t.Fatalf("handler saw %+v, want %+v", j, want)
	}
	waitStats(t, c, id, "buried", inState("buried"))
	before := statsJobs(t, c)
	if err := c.KickJob(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	j = recv(t, seen, "the try after the kick")
	if j.Attempt != 1 || j.History.Attempts != 0 || j.History.LastError != "smtp down" || j.History.Revivals != 1 || j.History.GaveUp != "buried" {
		t.Fatalf("after the kick the handler saw attempt %d, history %+v", j.Attempt, j.History)
	}
	if n := statsJobs(t, c); n != before+1 {
		t.Errorf("cmd-stats-job %d after the kick, %d before: want one for the history", n, before)
	}
	waitStats(t, c, id, "deleted", gone)
}

// statsJobs returns the server's cmd-stats-job count.
func statsJobs(t *testing.T, c *client.Conn) int64 {
	t.Helper()
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Int("cmd-stats-job")
	if err != nil {
		t.Fatal(err)
	}
	return n
}
