package wal

import (
	"testing"

	"github.com/reprieve/reprieve/internal/poll"
)

// A record nobody waits for, appended while a committer is inside the
// write of an earlier batch, is written once that write ends: the idle
// timer's kick makes the writer goroutine wait for the write token rather
// than leave the record to the next committer, which may never come.
func TestUnwaitedRecordIsWrittenAfterABusyLeader(t *testing.T) {
	l, fs := openAlways(t)
	defer mustClose(t, l)
	locked := func(f func() bool) func() bool {
		return func() bool { l.mu.Lock(); defer l.mu.Unlock(); return f() }
	}
	// The timer the first put armed has fired: the next put arms it anew,
	// and its committer (rather than the writer goroutine) most likely
	// leads.
	poll.Until(t, "the first idle timer to fire", locked(func() bool { return !l.idleArmed }))

	fs.hold()
	first, err := l.Put(newJob(2, "leader"))
	if err != nil {
		t.Fatal(err)
	}
	led := make(chan error, 1)
	go func() { led <- first.Wait() }()
	poll.Receive(t, "the leader inside its fsync", fs.inSync)
	if _, err := l.Put(newJob(3, "unwaited")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the idle timer to fire", locked(func() bool { return !l.idleArmed }))
	fs.release()
	if err := poll.Receive(t, "the leader's commit", led); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the unwaited record to be written", locked(func() bool { return len(l.pend) == 0 }))
}
