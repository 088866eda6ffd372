package module

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

// The disk buffer is a directory of batch files, one message per line
// (pipeline.Message.Marshal). output.disk writes NAME.SEQ.writing, fsyncs
// it and renames it NAME.SEQ.ready; input.disk reads *.ready files in name
// order, keeping its position in FILE.offset, and deletes a file once every
// message read from it has left the pipeline.

var diskKinds = []*pipeline.Kind{
	{
		Name:    "output.disk",
		Summary: "buffers messages to files in a directory (Wishbone's diskout); input.disk reads them back",
		In:      []string{"inbox"},
		Args: []pipeline.Arg{
			{Name: "directory", Type: pipeline.String, Required: true, Doc: "the buffer directory (created if missing)"},
			{Name: "interval", Type: pipeline.Duration, Default: time.Second, Doc: "flush buffered messages to a file at least this often"},
			{Name: "batch", Type: pipeline.Int, Default: 1000, Doc: "flush when this many messages are buffered"},
			{Name: "fsync", Type: pipeline.Bool, Default: true, Doc: "fsync each file and the directory before the messages count as delivered"},
		},
		Check: func(a pipeline.Args) error {
			if a.Int("batch") < 1 {
				return &pipeline.ArgError{Arg: "batch", Msg: "must be >= 1"}
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			dir := a.String("directory")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("output.disk: %w", err)
			}
			return &diskOut{env: env, dir: dir, interval: a.Duration("interval"), batch: a.Int("batch"), fsync: a.Bool("fsync"),
				stamp: time.Now().UnixNano()}, nil
		},
	},
	{
		Name:    "input.disk",
		Summary: "reads messages back from an output.disk buffer directory (Wishbone's diskin), resuming from its committed offset",
		Out:     []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "directory", Type: pipeline.String, Required: true, Doc: "the buffer directory (created if missing)"},
			{Name: "idle_trigger", Type: pipeline.Bool, Default: false, Doc: "read only when nothing was written to the directory for idle_time"},
			{Name: "idle_time", Type: pipeline.Duration, Default: 10 * time.Second, Doc: "quiet time required by idle_trigger"},
			{Name: "poll_interval", Type: pipeline.Duration, Default: 500 * time.Millisecond, Doc: "how often to look for new files"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			dir := a.String("directory")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("input.disk: %w", err)
			}
			return &diskIn{env: env, dir: dir, idleTrigger: a.Bool("idle_trigger"), idleTime: a.Duration("idle_time"), poll: a.Duration("poll_interval")}, nil
		},
	},
}

type diskOut struct {
	env      *pipeline.Env
	dir      string
	interval time.Duration
	batch    int
	fsync    bool
	stamp    int64 // distinguishes this process's files
	seq      atomic.Uint64

	mu      sync.Mutex // protects buf and holds; held while writing a file
	buf     []byte
	holds   []func(error)
	written atomic.Uint64
}

// Handle appends m to the batch; the message counts as delivered once the
// batch is on disk.
func (d *diskOut) Handle(_ context.Context, _ string, m *pipeline.Message) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = append(append(d.buf, b...), '\n')
	d.holds = append(d.holds, m.Hold())
	if len(d.holds) >= d.batch {
		return d.flushLocked()
	}
	return nil
}

// Run flushes every interval.
func (d *diskOut) Run(ctx context.Context) error {
	for sleep(ctx, d.env, d.interval) {
		if err := d.flush(); err != nil {
			return err
		}
	}
	return nil
}

// Close writes what is left.
func (d *diskOut) Close() error { return d.flush() }

func (d *diskOut) flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked()
}

// flushLocked writes the batch to a new file; on failure the batch stays
// buffered for the next flush.
func (d *diskOut) flushLocked() error {
	if len(d.holds) == 0 {
		return nil
	}
	name := fmt.Sprintf("%s.%020d-%08d", d.env.Name, d.stamp, d.seq.Add(1))
	tmp := filepath.Join(d.dir, name+".writing")
	if err := writeFileSync(tmp, d.buf, d.fsync); err != nil {
		return fmt.Errorf("output.disk: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, name+".ready")); err != nil {
		return fmt.Errorf("output.disk: %w", err)
	}
	if d.fsync {
		if err := syncDir(d.dir); err != nil {
			return fmt.Errorf("output.disk: %w", err)
		}
	}
	d.env.Log.Debug("wrote buffer file", "file", name+".ready", "messages", len(d.holds))
	d.written.Add(uint64(len(d.holds)))
	for _, release := range d.holds {
		release(nil)
	}
	d.buf, d.holds = d.buf[:0], d.holds[:0]
	return nil
}

func writeFileSync(path string, data []byte, fsync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(path)
			return err
		}
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

type diskIn struct {
	env         *pipeline.Env
	dir         string
	idleTrigger bool
	idleTime    time.Duration
	poll        time.Duration
	read        atomic.Uint64
	cur         atomic.Pointer[committer] // the file being read, kept across restarts

	// fault, when set by tests, is called before each record is read; an
	// error fails the run loop as a broken read would.
	fault func() error
}

// Run reads ready files one at a time, oldest first.
func (d *diskIn) Run(ctx context.Context) error {
	if c := d.cur.Load(); c != nil {
		// A restart: let the previous run's messages settle so the offset
		// file is exact and nothing is read twice.
		if err := c.wait(ctx); err != nil {
			return nil
		}
	}
	for {
		files, newest, err := d.scan()
		if err != nil {
			return err
		}
		quiet := !d.idleTrigger || d.env.Clock.Now().Sub(newest) >= d.idleTime
		if len(files) == 0 || !quiet {
			if !sleep(ctx, d.env, d.poll) {
				return nil
			}
			continue
		}
		if err := d.readFile(ctx, files[0]); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// scan lists ready files in order and the newest write time in the directory.
func (d *diskIn) scan() ([]string, time.Time, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("input.disk: %w", err)
	}
	var files []string
	var newest time.Time
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".ready") && !strings.HasSuffix(n, ".writing") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		if strings.HasSuffix(n, ".ready") {
			files = append(files, filepath.Join(d.dir, n))
		}
	}
	sort.Strings(files)
	return files, newest, nil
}

// readFile emits every message of one file from its committed offset, waits
// for all of them to leave the pipeline, then deletes the file.
func (d *diskIn) readFile(ctx context.Context, path string) error {
	c, err := openCommitter(path+".offset", 4096)
	if err != nil {
		return err
	}
	d.cur.Store(c)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input.disk: %w", err)
	}
	defer f.Close()
	pos := c.position()
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return fmt.Errorf("input.disk: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		if d.fault != nil {
			if err := d.fault(); err != nil {
				c.flush()
				return err
			}
		}
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				d.env.Log.Warn("ignoring torn last line of buffer file", "file", path, "offset", pos)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("input.disk: read %s: %w", path, err)
		}
		end := pos + int64(len(line))
		m, err := pipeline.Unmarshal(line)
		if err != nil {
			d.env.Log.Error("skipping undecodable buffer record", "file", path, "offset", pos, "error", err)
			pos = end
			continue
		}
		m = m.Detach()
		seq := c.add(end)
		m.OnDone(func(error) { c.done(seq) })
		if err := d.env.Emit(ctx, "outbox", m); err != nil {
			c.abort(seq)
			return c.flush()
		}
		d.read.Add(1)
		pos = end
	}
	if err := c.wait(ctx); err != nil {
		return c.flush()
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("input.disk: %w", err)
	}
	os.Remove(path + ".offset")
	return nil
}
