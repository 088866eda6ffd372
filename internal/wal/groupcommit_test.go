package wal

import (
	"errors"
	"sync"
	"testing"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/job"
)

// TestGroupCommitSharesOneFsync holds the fsync of a first put, queues 50
// puts from 50 goroutines meanwhile, and checks that they all become
// durable with exactly one more fsync, and that none is acknowledged
// before its fsync.
func TestGroupCommitSharesOneFsync(t *testing.T) {
	fs := newTestFS()
	o := testOptions(t.TempDir())
	o.Fsync = FsyncAlways
	o.SegmentSize = 1 << 20
	o.fs = fs
	l, _ := openLog(t, o)
	defer mustClose(t, l)
	cm, err := l.Put(newJob(1, "settle"))
	wait(t, cm, err)

	fs.hold()
	first, err := l.Put(newJob(2, "first"))
	if err != nil {
		t.Fatal(err)
	}
	<-fs.inSync // the writer is now inside the first batch's fsync
	before := fs.syncs.Load()

	const n = 50
	commits := make([]broker.Commit, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := l.Put(newJob(job.ID(10+i), "grouped"))
			if err != nil {
				t.Error(err)
			}
			commits[i] = c
		}()
	}
	wg.Wait()
	for _, c := range commits {
		select {
		case <-c.(*batch).done:
			t.Fatal("a commit was acknowledged before its fsync")
		default:
		}
	}
	fs.release()
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, c := range commits {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := fs.syncs.Load() - before; got != 2 {
		t.Fatalf("%d fsyncs for the held batch and the 50 queued puts, want 2", got)
	}
}

// TestPoliciesAcknowledge checks when each policy completes a commit: all
// after the write; only always after an fsync.
func TestPoliciesAcknowledge(t *testing.T) {
	for _, tc := range []struct {
		policy    FsyncPolicy
		wantSyncs bool
	}{{FsyncAlways, true}, {FsyncInterval, false}, {FsyncNever, false}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			fs := newTestFS()
			o := testOptions(t.TempDir())
			o.Fsync, o.fs, o.Interval = tc.policy, fs, 1<<40 // the interval never elapses
			l, _ := openLog(t, o)
			defer mustClose(t, l)
			cm, err := l.Put(newJob(1, "settle"))
			wait(t, cm, err)
			before := fs.syncs.Load()
			for i := range 20 {
				cm, err := l.Put(newJob(job.ID(2+i), "x"))
				wait(t, cm, err)
			}
			if got := fs.syncs.Load() - before; (got > 0) != tc.wantSyncs {
				t.Fatalf("%d fsyncs during 20 acknowledged puts", got)
			}
		})
	}
}

// TestFsyncFailureStopsTheLog checks that an fsync error fails the
// commits waiting on it and every later change, rather than acknowledging
// what may not be on disk.
func TestFsyncFailureStopsTheLog(t *testing.T) {
	fs := newTestFS()
	o := testOptions(t.TempDir())
	o.Fsync, o.fs = FsyncAlways, fs
	l, _ := openLog(t, o)
	cm, err := l.Put(newJob(1, "ok"))
	wait(t, cm, err)
	fs.failSync.Store(true)
	cm, err = l.Put(newJob(2, "doomed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Wait(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Wait after a failed fsync: %v, want ErrFailed", err)
	}
	if _, err := l.Put(newJob(3, "later")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Put after a failed fsync: %v, want ErrFailed", err)
	}
	fs.failSync.Store(false)
	if err := l.Close(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Close: %v, want the failure reported", err)
	}
}
