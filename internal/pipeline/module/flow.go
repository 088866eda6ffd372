package module

import (
	"context"
	"errors"
	"sync"

	"github.com/reprieve/reprieve/internal/pipeline"
)

// ErrNoOutputs is returned by fanout and roundrobin with nothing connected.
var ErrNoOutputs = errors.New("module: no connected output queues")

var flowKinds = []*pipeline.Kind{
	{
		Name:      "flow.funnel",
		Summary:   "merges any number of input queues (name them in the routing table) into outbox",
		DynamicIn: true,
		Out:       []string{"outbox"},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &funnel{env: env}, nil
		},
	},
	{
		Name:       "flow.fanout",
		Summary:    "copies each message from inbox to every connected output queue (name them in the routing table)",
		In:         []string{"inbox"},
		DynamicOut: true,
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &fanout{env: env}, nil
		},
	},
	{
		Name:       "flow.roundrobin",
		Summary:    "sends each message from inbox to the next connected output queue in turn",
		In:         []string{"inbox"},
		DynamicOut: true,
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &roundrobin{env: env}, nil
		},
	},
}

type funnel struct{ env *pipeline.Env }

// Handle forwards m to outbox.
func (f *funnel) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	return f.env.Emit(ctx, "outbox", m)
}

type fanout struct{ env *pipeline.Env }

// Handle emits a copy of m to every connected output.
func (f *fanout) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	outs := f.env.Outputs()
	if len(outs) == 0 {
		return ErrNoOutputs
	}
	for _, q := range outs {
		if err := f.env.Emit(ctx, q, m); err != nil {
			return err
		}
	}
	return nil
}

type roundrobin struct {
	env  *pipeline.Env
	mu   sync.Mutex // protects next
	next int
}

// Handle emits m to the next output in turn.
func (r *roundrobin) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	outs := r.env.Outputs()
	if len(outs) == 0 {
		return ErrNoOutputs
	}
	r.mu.Lock()
	q := outs[r.next%len(outs)]
	r.next++
	r.mu.Unlock()
	return r.env.Emit(ctx, q, m)
}
