package wal

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// openAlways opens a log under the always policy on a testFS whose fsyncs
// the test can hold, with job 1 put and durable.
func openAlways(t *testing.T) (*Log, *testFS) {
	t.Helper()
	fs := newTestFS()
	o := testOptions(t.TempDir())
	o.Fsync = FsyncAlways
	o.SegmentSize = 1 << 20
	o.fs = fs
	l, _ := openLog(t, o)
	cm, err := l.Put(newJob(1, "settle"))
	wait(t, cm, err)
	return l, fs
}

// TestGroupCommitSharesOneFsync holds the fsync of a first put, queues 50
// puts from 50 goroutines meanwhile, and checks that they all become
// durable with exactly one more fsync, and that none is acknowledged
// before its fsync.
func TestGroupCommitSharesOneFsync(t *testing.T) {
	l, fs := openAlways(t)
	defer mustClose(t, l)

	fs.hold()
	first, err := l.Put(newJob(2, "first"))
	if err != nil {
		t.Fatal(err)
	}
	<-fs.inSync // the writer is now inside the first batch's fsync
	before := fs.syncs.Load()

	const n = 50
	commits := make([]journal.Commit, n)
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

// TestIntervalFsyncNeverDelaysCommits holds every fsync at a gate under
// the interval policy and checks that commits are still acknowledged: the
// committer that finds the interval elapsed hands the fsync to the writer
// goroutine instead of doing it, and the writer fsyncs without holding
// the write token.
func TestIntervalFsyncNeverDelaysCommits(t *testing.T) {
	fs := newTestFS()
	clk := clock.NewFake(t0)
	o := testOptions(t.TempDir())
	o.Fsync, o.fs, o.Clock, o.Interval = FsyncInterval, fs, clk, 50*time.Millisecond
	l, _ := openLog(t, o)
	released := false
	defer func() {
		if !released {
			fs.release()
		}
	}()
	before := fs.syncs.Load() // segment creation at Open
	fs.hold()
	clk.Advance(time.Hour) // the interval has elapsed; no fsync is due yet

	// waitAcked waits for a commit, failing (rather than hanging) if it
	// waits for the held fsync.
	waitAcked := func(what string, cm journal.Commit, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cm.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			fs.release()
			released = true
			<-done
			t.Fatalf("%s was acknowledged only after the held fsync", what)
		}
	}
	cm, err := l.Put(newJob(1, "first after the interval"))
	waitAcked("put 1", cm, err)
	<-fs.inSync // the writer goroutine is inside the interval fsync
	if got := fs.syncs.Load() - before; got != 0 {
		t.Fatalf("%d fsyncs completed while the gate is held", got)
	}
	for i := range 10 {
		cm, err := l.Put(newJob(job.ID(2+i), "during the fsync"))
		waitAcked(fmt.Sprintf("put %d", 2+i), cm, err)
	}
	fs.release()
	released = true
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := fs.syncs.Load() - before; got < 2 {
		t.Fatalf("%d fsyncs: want the interval fsync and Sync's", got)
	}
	mustClose(t, l)
	l, rec := openLog(t, o)
	defer mustClose(t, l)
	if len(rec.Jobs) != 11 {
		t.Fatalf("%d jobs after reopen, want 11", len(rec.Jobs))
	}
}
