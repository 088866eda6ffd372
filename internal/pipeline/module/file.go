package module

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

var fileKinds = []*pipeline.Kind{
	{
		Name:    "input.file",
		Summary: "tails a file line by line; each line is a message; the offset is committed once a line has left the pipeline (at least once)",
		Out:     []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "path", Type: pipeline.String, Required: true, Doc: "the file to read (it may not exist yet)"},
			{Name: "offset_file", Type: pipeline.String, Default: "", Doc: "where the committed offset is kept (default: PATH.offset)"},
			{Name: "poll_interval", Type: pipeline.Duration, Default: 250 * time.Millisecond, Doc: "how often to look for new lines at the end of the file"},
			{Name: "commit_every", Type: pipeline.Int, Default: 4096, Doc: "write the offset file after this many committed bytes (and whenever nothing is in flight)"},
			{Name: "max_line", Type: pipeline.Int, Default: 1 << 20, Doc: "longest accepted line in bytes; a longer one stops the module with an error"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			off := a.String("offset_file")
			if off == "" {
				off = a.String("path") + ".offset"
			}
			c, err := openCommitter(off, a.Int("commit_every"))
			if err != nil {
				return nil, err
			}
			return &fileIn{env: env, path: a.String("path"), poll: a.Duration("poll_interval"), maxLine: a.Int("max_line"), commit: c}, nil
		},
	},
	{
		Name:    "output.file",
		Summary: "appends each message's body as a line to a file",
		In:      []string{"inbox"},
		Args: []pipeline.Arg{
			{Name: "path", Type: pipeline.String, Required: true, Doc: "the file to append to (created if missing)"},
			{Name: "fsync", Type: pipeline.Bool, Default: false, Doc: "fsync after every line before reporting success"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &fileOut{path: a.String("path"), fsync: a.Bool("fsync")}, nil
		},
	},
}

// ErrLineTooLong stops input.file at a line longer than max_line.
var ErrLineTooLong = errors.New("module: line too long")

type fileIn struct {
	env     *pipeline.Env
	path    string
	poll    time.Duration
	maxLine int
	commit  *committer

	// fault, when set by tests, is called before each line is read; an
	// error fails the run loop as a broken read would (seed 002's producer).
	fault func() error
}

// Run waits for the previous run's records to settle, then reads from the
// committed offset, emitting each complete line.
func (f *fileIn) Run(ctx context.Context) error {
	if err := f.commit.wait(ctx); err != nil {
		return nil
	}
	pos := f.commit.position()
	var file *os.File
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	var r *bufio.Reader
	var partial []byte
	for {
		if file == nil {
			fh, err := os.Open(f.path)
			if errors.Is(err, os.ErrNotExist) {
				if !sleep(ctx, f.env, f.poll) {
					return nil
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("input.file: %w", err)
			}
			if _, err := fh.Seek(pos, io.SeekStart); err != nil {
				fh.Close()
				return fmt.Errorf("input.file: %w", err)
			}
			file, r, partial = fh, bufio.NewReaderSize(fh, 64<<10), nil
		}
		if f.fault != nil {
			if err := f.fault(); err != nil {
				return err
			}
		}
		chunk, err := r.ReadSlice('\n')
		partial = append(partial, chunk...)
		if len(partial) > f.maxLine {
			return fmt.Errorf("%w: %s at offset %d is over %d bytes", ErrLineTooLong, f.path, pos, f.maxLine)
		}
		switch {
		case err == nil:
			end := pos + int64(len(partial))
			line := bytes.TrimSuffix(partial[:len(partial)-1], []byte("\r"))
			m := pipeline.NewMessage(fmt.Sprintf("%s:%d", f.path, pos), append([]byte(nil), line...))
			seq := f.commit.add(end)
			m.OnDone(func(error) { f.commit.done(seq) })
			if err := f.env.Emit(ctx, "outbox", m); err != nil {
				f.commit.abort(seq)
				return nil
			}
			pos, partial = end, partial[:0]
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if st, serr := os.Stat(f.path); serr == nil && st.Size() < pos {
				f.env.Log.Warn("file truncated; reading from the start", "path", f.path, "size", st.Size(), "offset", pos)
				file.Close()
				file, pos = nil, 0
				f.commit.reset(0)
				continue
			}
			if !sleep(ctx, f.env, f.poll) {
				return nil
			}
		default:
			return fmt.Errorf("input.file: read %s: %w", f.path, err)
		}
	}
}

// Close writes the last committed offset.
func (f *fileIn) Close() error { return f.commit.flush() }

type fileOut struct {
	path  string
	fsync bool

	mu   sync.Mutex // protects file
	file *os.File
}

// Handle appends one line.
func (f *fileOut) Handle(_ context.Context, _ string, m *pipeline.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.file = fh
	}
	line := append(append(make([]byte, 0, len(m.Body)+1), m.Body...), '\n')
	if _, err := f.file.Write(line); err != nil {
		f.file.Close()
		f.file = nil
		return err
	}
	if f.fsync {
		return f.file.Sync()
	}
	return nil
}

// Close closes the file.
func (f *fileOut) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return nil
	}
	err := f.file.Close()
	f.file = nil
	return err
}
