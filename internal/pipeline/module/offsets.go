package module

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ErrBadOffset is returned for an unreadable offset file.
var ErrBadOffset = errors.New("module: bad offset file")

// committer tracks the records an input has emitted and persists, in an
// offset file, the position after the last record such that it and every
// record before it have left the pipeline. Records finish out of order
// (round-robin, fanout), so it keeps the emitted ones in order and moves
// the committed position over the finished prefix.
type committer struct {
	path  string
	every int // write the file after this many committed records

	mu        sync.Mutex // protects the fields below
	committed int64      // position of the first record not yet finished
	written   int64      // position last written to the file
	base      uint64     // sequence number of pending[0]
	pending   []pendingRecord
	err       error         // last write error, reported by flush
	idle      chan struct{} // closed and replaced when pending empties
}

type pendingRecord struct {
	end  int64
	done bool
}

// openCommitter loads the offset file at path (0 if it does not exist).
func openCommitter(path string, every int) (*committer, error) {
	c := &committer{path: path, every: every, idle: make(chan struct{})}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("module: read offset: %w", err)
	default:
		n, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil || n < 0 {
			return nil, fmt.Errorf("%w %s: %q (delete it to start from the beginning)", ErrBadOffset, path, b)
		}
		c.committed, c.written = n, n
	}
	return c, nil
}

// position returns the committed position.
func (c *committer) position() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed
}

// add registers a record ending at end; the returned seq is passed to
// done (through Message.OnDone) or abort.
func (c *committer) add(end int64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.base + uint64(len(c.pending))
	c.pending = append(c.pending, pendingRecord{end: end})
	return seq
}

// abort forgets the newest record, which was never emitted.
func (c *committer) abort(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := int(seq - c.base); i == len(c.pending)-1 {
		c.pending = c.pending[:i]
		c.wakeIfIdle()
	}
}

// done marks a record finished and commits the finished prefix.
func (c *committer) done(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := int(seq - c.base)
	if i < 0 || i >= len(c.pending) {
		return
	}
	c.pending[i].done = true
	n := 0
	for n < len(c.pending) && c.pending[n].done {
		c.committed = c.pending[n].end
		n++
	}
	c.pending = c.pending[n:]
	c.base += uint64(n)
	if n > 0 && (len(c.pending) == 0 || c.committed-c.written >= int64(c.every)) {
		c.writeLocked()
	}
	c.wakeIfIdle()
}

func (c *committer) wakeIfIdle() {
	if len(c.pending) == 0 {
		close(c.idle)
		c.idle = make(chan struct{})
	}
}

// wait blocks until every emitted record has finished (or ctx ends).
func (c *committer) wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return nil
		}
		ch := c.idle
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reset sets the position (file truncated or replaced); pending records
// are forgotten.
func (c *committer) reset(pos int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base += uint64(len(c.pending))
	c.pending = nil
	c.committed = pos
	c.writeLocked()
	c.wakeIfIdle()
}

// flush writes the committed position if it changed.
func (c *committer) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committed != c.written {
		c.writeLocked()
	}
	return c.err
}

// writeLocked replaces the offset file atomically (write, rename).
func (c *committer) writeLocked() {
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(c.committed, 10)+"\n"), 0o644); err != nil {
		c.err = fmt.Errorf("module: write offset: %w", err)
		return
	}
	if err := os.Rename(tmp, c.path); err != nil {
		c.err = fmt.Errorf("module: write offset: %w", err)
		return
	}
	c.written, c.err = c.committed, nil
}
