package wal

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// file is what the log needs of an open segment file.
type file interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Close() error
	Size() (int64, error)
}

// fileSystem is the file layer under the log. Production uses osFS; tests
// wrap it to count fsyncs, hold them, or fail allocations.
type fileSystem interface {
	// Open opens an existing file for reading and writing.
	Open(name string) (file, error)
	// Create creates name (truncating it) for reading and writing.
	Create(name string) (file, error)
	// Allocate reserves size bytes of disk for f.
	Allocate(f file, size int64) error
	Rename(from, to string) error
	Remove(name string) error
	// SyncDir fsyncs a directory so that names created, renamed or removed
	// in it are durable.
	SyncDir(dir string) error
}

type osFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (osFS) Open(name string) (file, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Create(name string) (file, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Allocate uses fallocate(2) so that later writes inside the file cannot
// fail for lack of space; where the file system does not support it, it
// falls back to writing zeros, which reserves the space just the same.
func (osFS) Allocate(f file, size int64) error {
	of, ok := f.(osFile)
	if !ok {
		return fmt.Errorf("wal: allocate: unexpected file type %T", f)
	}
	err := fallocate(int(of.Fd()), size)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	cur, err := f.Size()
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for off := cur; off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return nil
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// isNoSpace reports whether err means the disk (or a quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
