package module

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/retry"
)

var retryKinds = []*pipeline.Kind{
	{
		Name: "flow.retry",
		Summary: "holds each message durably in a directory for a backoff delay, then sends it to outbox with its attempt count raised; " +
			"past max_attempts or max_age it raises, sending the message to failed (seed 001's schedule by default: 1m growing 1.5x to 1h, for 72h, 80 retries)",
		In:  []string{"inbox"},
		Out: []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "directory", Type: pipeline.String, Required: true, Doc: "where waiting messages are kept (one file each; they survive restarts)"},
			{Name: "initial", Type: pipeline.Duration, Default: time.Minute, Doc: "delay before the first retry (at least 1s)"},
			{Name: "factor", Type: pipeline.Float, Default: 1.5, Doc: "growth of the delay per attempt (1 keeps it fixed)"},
			{Name: "cap", Type: pipeline.Duration, Default: time.Hour, Doc: "longest delay"},
			{Name: "jitter", Type: pipeline.Float, Default: 0.1, Doc: "spread each delay by up to this fraction either way (0.1 = ±10%)"},
			{Name: "max_age", Type: pipeline.Duration, Default: 72 * time.Hour, Doc: "give up when the next retry would fall later than this after the first failure; 0 means no limit"},
			{Name: "max_attempts", Type: pipeline.Int, Default: 0, Doc: "give up after this many failures; 0 means no limit"},
		},
		Check: func(a pipeline.Args) error {
			if err := scheduleOf(a).Validate(); err != nil {
				var inv *retry.InvalidError
				if errors.As(err, &inv) {
					return &pipeline.ArgError{Arg: strings.ReplaceAll(inv.Field, "-", "_"), Msg: inv.Problem + "; " + inv.Fix}
				}
				return err
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			dir := a.String("directory")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("flow.retry: %w", err)
			}
			r := &retryMod{env: env, dir: dir, wake: make(chan struct{}, 1), sched: scheduleOf(a),
				rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
			if err := r.load(); err != nil {
				return nil, err
			}
			return r, nil
		},
	},
}

// ErrGiveUp is wrapped by flow.retry's error for a message past its limits.
var ErrGiveUp = errors.New("module: retries exhausted")

// scheduleOf builds the retry schedule (internal/retry, shared with the
// job server's failure policies) from the module's arguments.
func scheduleOf(a pipeline.Args) retry.Schedule {
	return retry.Schedule{Initial: a.Duration("initial"), Factor: a.Float("factor"), Cap: a.Duration("cap"),
		Jitter: a.Float("jitter"), MaxAge: a.Duration("max_age"), MaxAttempts: a.Int("max_attempts")}
}

const firstRetryMeta = "retry.first"

type waiting struct {
	due  time.Time
	path string
}

type waitHeap []waiting

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waiting)) }
func (h *waitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type retryMod struct {
	env   *pipeline.Env
	dir   string
	sched retry.Schedule
	wake  chan struct{}

	mu    sync.Mutex // protects queue, seq and rnd
	queue waitHeap
	seq   uint64
	rnd   *rand.Rand // the schedule's jitter draws
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// load schedules the messages a previous run left in the directory; the
// due time is the file name's first field.
func (r *retryMod) load() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("flow.retry: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".msg") {
			continue
		}
		due, err := strconv.ParseInt(strings.SplitN(name, "-", 2)[0], 10, 64)
		if err != nil {
			r.env.Log.Warn("ignoring unexpected file in retry directory", "file", name)
			continue
		}
		heap.Push(&r.queue, waiting{due: time.Unix(0, due), path: filepath.Join(r.dir, name)})
	}
	return nil
}

// Handle stores m until its next attempt is due, or gives up.
func (r *retryMod) Handle(_ context.Context, _ string, m *pipeline.Message) error {
	now := r.env.Clock.Now()
	first := now
	if s, ok := m.Meta[firstRetryMeta]; ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			first = t
		}
	}
	failures := m.Attempt + 1
	r.mu.Lock()
	delay, giveUp := r.sched.Next(failures, first, now, r.rnd)
	r.mu.Unlock()
	if giveUp {
		return fmt.Errorf("%w after %d failures since %s", ErrGiveUp, failures, first.Format(time.RFC3339))
	}
	c := m.Clone()
	if c.Meta == nil {
		c.Meta = map[string]string{}
	}
	c.Meta[firstRetryMeta] = first.Format(time.RFC3339Nano)
	c.Attempt++
	due := now.Add(delay)
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	name := fmt.Sprintf("%020d-%s-%d.msg", due.UnixNano(), unsafeName.ReplaceAllString(m.ID, "_"), seq)
	path := filepath.Join(r.dir, name)
	if err := writeFileSync(path+".tmp", b, true); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	if err := syncDir(r.dir); err != nil {
		return err
	}
	r.env.Log.Info("holding message for retry", "id", m.ID, "attempt", c.Attempt, "due", due)
	r.mu.Lock()
	heap.Push(&r.queue, waiting{due: due, path: path})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run sends due messages on, sleeping on the clock until the next is due.
func (r *retryMod) Run(ctx context.Context) error {
	for {
		now := r.env.Clock.Now()
		r.mu.Lock()
		var next *waiting
		if len(r.queue) > 0 {
			w := r.queue[0]
			next = &w
			if !w.due.After(now) {
				heap.Pop(&r.queue)
			}
		}
		r.mu.Unlock()
		if next != nil && !next.due.After(now) {
			if err := r.send(ctx, next.path); err != nil {
				if ctx.Err() != nil {
					r.mu.Lock()
					heap.Push(&r.queue, *next)
					r.mu.Unlock()
					return nil
				}
				return err
			}
			continue
		}
		var t clock.Timer
		fire := make(chan struct{})
		if next != nil {
			t = r.env.Clock.AfterFunc(next.due.Sub(now), func() { close(fire) })
		}
		select {
		case <-fire:
		case <-r.wake:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// send emits the stored message and deletes its file.
func (r *retryMod) send(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("flow.retry: %w", err)
	}
	m, err := pipeline.Unmarshal(b)
	if err != nil {
		r.env.Log.Error("undecodable retry file; moved aside", "file", path, "error", err)
		return os.Rename(path, path+".bad")
	}
	if err := r.env.Emit(ctx, "outbox", m.Detach()); err != nil {
		return err
	}
	return os.Remove(path)
}

// Waiting reports how many messages are held.
func (r *retryMod) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}
