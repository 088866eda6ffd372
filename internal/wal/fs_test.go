package wal

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// testFS wraps the real file layer to count fsyncs, hold them at a gate,
// and fail allocations as a full disk does.
type testFS struct {
	osFS
	syncs    atomic.Int64
	noSpace  atomic.Bool // Allocate fails with ENOSPC while set
	gateMu   sync.Mutex  // protects gate
	gate     chan struct{}
	inSync   chan struct{} // receives when a Sync reaches a closed gate... or a held one
	failSync atomic.Bool
}

type testFile struct {
	file
	fs *testFS
}

func newTestFS() *testFS { return &testFS{inSync: make(chan struct{}, 100)} }

func (f *testFS) wrap(fl file, err error) (file, error) {
	if err != nil {
		return nil, err
	}
	return testFile{fl, f}, nil
}

func (f *testFS) Open(name string) (file, error)   { return f.wrap(f.osFS.Open(name)) }
func (f *testFS) Create(name string) (file, error) { return f.wrap(f.osFS.Create(name)) }

func (f *testFS) Allocate(fl file, size int64) error {
	if f.noSpace.Load() {
		return syscall.ENOSPC
	}
	return f.osFS.Allocate(fl.(testFile).file, size)
}

// hold makes the next fsyncs wait until release.
func (f *testFS) hold() {
	f.gateMu.Lock()
	f.gate = make(chan struct{})
	f.gateMu.Unlock()
}

func (f *testFS) release() {
	f.gateMu.Lock()
	close(f.gate)
	f.gate = nil
	f.gateMu.Unlock()
}

func (tf testFile) Sync() error {
	tf.fs.gateMu.Lock()
	g := tf.fs.gate
	tf.fs.gateMu.Unlock()
	if g != nil {
		tf.fs.inSync <- struct{}{}
		<-g
	}
	tf.fs.syncs.Add(1)
	if tf.fs.failSync.Load() {
		return syscall.EIO
	}
	return tf.file.Sync()
}
