package broker

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// TestRestoreOrders covers both of Restore's paths: ids handed in order
// (no sort, no duplicate lookups) and out of order with duplicates (the
// first copy wins). Either way buried jobs come back in burial order and
// ready ones in priority then id order.
func TestRestoreOrders(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id job.ID, st job.State, pri uint32, buriedAt int) *job.Job {
		j := &job.Job{ID: id, Tube: "q", State: st, Priority: pri, TTR: time.Minute, Body: []byte(itoa(id))}
		if st == job.Buried {
			j.Deadline = base.Add(time.Duration(buriedAt) * time.Second)
		}
		return j
	}
	inOrder := []*job.Job{
		mk(1, job.Buried, 0, 3), mk(2, job.Ready, 5, 0), mk(3, job.Buried, 0, 1),
		mk(4, job.Reserved, 1, 0), mk(5, job.Buried, 0, 2), mk(6, job.Ready, 5, 0),
	}
	shuffled := []*job.Job{inOrder[4], inOrder[1], nil, inOrder[5], inOrder[0], inOrder[3], inOrder[2]}
	dup := *inOrder[1]
	dup.Priority = 0 // a later copy of job 2: ignored
	shuffled = append(shuffled, &dup)
	for name, jobs := range map[string][]*job.Job{"in order": inOrder, "shuffled with duplicate": shuffled} {
		t.Run(name, func(t *testing.T) {
			b, _ := newTest(t, nil)
			b.Restore(jobs, 5)
			if st := b.Stats(); st.CurrentJobsReady != 3 || st.CurrentJobsBuried != 3 || st.CurrentJobsReserved != 0 {
				t.Fatalf("stats %+v", st)
			}
			s := open(t, b)
			s.Watch("q")
			s.Use("q")
			for _, want := range []job.ID{4, 2, 6} {
				mustReserve(t, s, want)
			}
			for _, want := range []job.ID{3, 5, 1} {
				if p, _ := b.PeekBuried("q"); p.ID != want {
					t.Fatalf("next buried %d, want %d", p.ID, want)
				}
				if err := b.KickJob(want); err != nil {
					t.Fatal(err)
				}
			}
			if id, _ := s.Put(0, 0, time.Second, nil); id != 7 {
				t.Fatalf("next id %d, want 7", id)
			}
		})
	}
}

// BenchmarkRestore measures Restore of REPRIEVE_RESTORE_JOBS (default
// 100,000) ready jobs of 64 bytes handed in id order, as the log does.
func BenchmarkRestore(b *testing.B) {
	n := 100000
	if s := os.Getenv("REPRIEVE_RESTORE_JOBS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	body := make([]byte, 64)
	jobs := make([]*job.Job, n)
	for i := range jobs {
		jobs[i] = &job.Job{ID: job.ID(i + 1), Tube: "default", State: job.Ready, TTR: time.Minute, Body: body}
	}
	b.ReportAllocs()
	for b.Loop() {
		br := New(Config{})
		br.Restore(jobs, job.ID(n+1))
		br.Close()
	}
}
