package module

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

var generatorKinds = []*pipeline.Kind{
	{
		Name:    "input.generator",
		Summary: "generates random JSON objects (id, seq, value) at an interval, like Wishbone's dictgenerator",
		Out:     []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "interval", Type: pipeline.Duration, Default: time.Second, Doc: "time between messages (seconds or \"500ms\"); 0 generates as fast as the pipeline accepts"},
			{Name: "count", Type: pipeline.Int, Default: 0, Doc: "stop after this many messages; 0 means never"},
			{Name: "id_prefix", Type: pipeline.String, Default: "", Doc: "prefix of message ids (default: random per run, so ids are unique across runs)"},
		},
		Check: func(a pipeline.Args) error {
			if a.Int("count") < 0 {
				return &pipeline.ArgError{Arg: "count", Msg: "must be >= 0"}
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			prefix := a.String("id_prefix")
			if prefix == "" {
				prefix = strconv.FormatUint(rand.Uint64()&0xffffffffff, 36)
			}
			return &generator{env: env, interval: a.Duration("interval"), count: a.Int("count"), prefix: prefix}, nil
		},
	},
}

type generator struct {
	env      *pipeline.Env
	interval time.Duration
	count    int
	prefix   string
	seq      atomic.Int64 // messages emitted so far; survives restarts
}

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}

// Run emits one message per interval until count is reached or ctx ends.
func (g *generator) Run(ctx context.Context) error {
	for g.count == 0 || g.seq.Load() < int64(g.count) {
		n := g.seq.Load() + 1
		id := fmt.Sprintf("%s-%d", g.prefix, n)
		body, _ := json.Marshal(map[string]any{"id": id, "seq": n, "value": words[rand.IntN(len(words))], "number": rand.IntN(1000)})
		if err := g.env.Emit(ctx, "outbox", pipeline.NewMessage(id, body)); err != nil {
			return nil // shutting down
		}
		g.seq.Store(n)
		if g.interval > 0 && !sleep(ctx, g.env, g.interval) {
			return nil
		}
	}
	return nil
}

// sleep waits d on the module's clock; false if ctx ended first.
func sleep(ctx context.Context, env *pipeline.Env, d time.Duration) bool {
	ch := make(chan struct{})
	t := env.Clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
