package cluster

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// streamDiskBytes sums the files of the stream's directories under the
// shared NATS servers' store.
func streamDiskBytes(t *testing.T, stream string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(sharedDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, "/"+stream+"/") {
			return err
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReleaseChurnKeepsStreamBounded is beanstalkd issue #622's workload
// (long-lived jobs released with a delay round after round) against the
// replicated log: the stream holds one message per job, so its size stays
// that of the live jobs, and the replicas' files do not grow with the
// rounds beyond JetStream's block size.
func TestReleaseChurnKeepsStreamBounded(t *testing.T) {
	nodes := []*Node{}
	for _, c := range withLease(externalConfigs(t, 1), loadedLease) {
		n, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := next(t, campaign(ctx, nodes))
	j := nodes[w.i].Journal()
	const jobs, size, churnRounds = 200, 1024, 120
	body := make([]byte, size)
	all := make([]*job.Job, jobs)
	write(t, j, func(put func(*job.Job), _ func(*job.Job), _ func(job.ID)) {
		for i := range all {
			all[i] = &job.Job{ID: job.ID(i + 1), Tube: "churn", Body: body, TTR: time.Minute, State: job.Ready}
			put(all[i])
		}
	})
	live := int64(jobs * size)
	var disk []int64
	for round := 1; round <= churnRounds; round++ {
		write(t, j, func(_ func(*job.Job), upd func(*job.Job), _ func(job.ID)) {
			for _, jb := range all {
				jb.Releases++
				jb.State, jb.Deadline = job.Delayed, time.Now().Add(time.Hour)
				upd(jb)
			}
		})
		if round%(churnRounds/4) == 0 {
			disk = append(disk, streamDiskBytes(t, nodes[0].names.stream))
		}
	}
	st := w.l.Stats()
	t.Logf("live %d bytes; stream %d bytes in %d messages; files of the 3 replicas after each quarter of the rounds: %v bytes (written %d)",
		live, st.StreamBytes, st.StreamMessages, disk, int64((churnRounds+1)*jobs*size*3))
	if st.StreamMessages > jobs+3 {
		t.Errorf("stream holds %d messages for %d jobs", st.StreamMessages, jobs)
	}
	if st.StreamBytes > uint64(2*live) {
		t.Errorf("stream holds %d bytes for %d live bytes", st.StreamBytes, live)
	}
	// JetStream's file store drops a block (at most 8 MiB) once nothing
	// in it is live: each replica stays within its live bytes twice over
	// plus one block, however many rounds run.
	for _, d := range disk {
		if bound := int64(3 * (2*live + 8<<20)); d > bound {
			t.Errorf("the replicas' files hold %d bytes, above %d: %v", d, bound, disk)
		}
	}
}
