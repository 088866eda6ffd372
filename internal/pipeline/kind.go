package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/reprieve/reprieve/internal/clock"
)

// Module is a running instance of a Kind. It implements Handler, Runner or
// both, and optionally Closer.
type Module any

// Handler processes one message taken from one of the module's input queues.
// It contains no error routing: a returned error or a panic sends the message
// to the module's failed queue, annotated; nil sends it to successful. Handle
// may Emit (copies of) the message or new messages to other queues.
// Handle is called from one goroutine per input queue.
type Handler interface {
	Handle(ctx context.Context, queue string, m *Message) error
}

// Runner is a module's own loop (an input reading a socket, a timer). Run is
// supervised: an error or panic restarts it with backoff; nil means it has
// finished for good. ctx is cancelled at shutdown, before queues drain.
type Runner interface {
	Run(ctx context.Context) error
}

// Closer is called once after the pipeline has drained, to flush buffers.
type Closer interface {
	Close() error
}

// Kind describes a module kind: its queues, its arguments and a constructor.
type Kind struct {
	// Name is what bootstrap files write after "module:", e.g. "output.tcp".
	Name string
	// Summary is one line for 'reprieve modules'.
	Summary string
	// Args lists every accepted argument with its type and default.
	Args []Arg
	// In lists the input queues Handle consumes; kinds with inputs also get
	// the output queues "successful" and "failed".
	In []string
	// Out lists the named output queues the module emits to.
	Out []string
	// DynamicIn accepts any other input queue name (funnel's "one", "two").
	DynamicIn bool
	// DynamicOut accepts any other output queue name (fanout's targets).
	DynamicOut bool
	// Check validates decoded arguments beyond their types; an *ArgError
	// points the message at the argument's line.
	Check func(a Args) error
	// New builds the module; it must not start goroutines (Run does).
	New func(env *Env, a Args) (Module, error)
}

// HasHandler reports whether modules of this kind consume input queues.
func (k *Kind) HasHandler() bool { return len(k.In) > 0 || k.DynamicIn }

// OutQueues lists the fixed output queues, including successful and failed
// for kinds that handle messages.
func (k *Kind) OutQueues() []string {
	out := append([]string(nil), k.Out...)
	if k.HasHandler() {
		out = append(out, "successful", "failed")
	}
	return out
}

func (k *Kind) isIn(q string) bool {
	for _, n := range k.In {
		if n == q {
			return true
		}
	}
	return k.DynamicIn && !k.isFixedOut(q)
}

func (k *Kind) isFixedOut(q string) bool {
	for _, n := range k.OutQueues() {
		if n == q {
			return true
		}
	}
	return false
}

func (k *Kind) isOut(q string) bool {
	if k.isFixedOut(q) {
		return true
	}
	return k.DynamicOut && !k.isIn(q)
}

var (
	registryMu sync.Mutex // protects registry
	registry   = map[string]*Kind{}
)

// Register adds a kind; it panics on a duplicate name (a programming error).
func Register(k *Kind) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[k.Name]; dup {
		panic("pipeline: kind registered twice: " + k.Name)
	}
	registry[k.Name] = k
}

// Lookup returns the registered kind with that name.
func Lookup(name string) (*Kind, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	k, ok := registry[name]
	return k, ok
}

// Kinds returns every registered kind sorted by name.
func Kinds() []*Kind {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]*Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Env is what the runtime gives a module: its name, the clock, a logger
// carrying the module name, and Emit.
type Env struct {
	// Name is the module's instance name from the bootstrap file.
	Name string
	// Clock is the pipeline's clock (fake in tests).
	Clock clock.Clock
	// Log carries the attribute module=Name.
	Log *slog.Logger

	node *node

	outsOnce sync.Once
	outs     []string // Outputs' answer; routes are fixed once built
}

// Emit sends m to the module's output queue q, blocking while the connected
// queue is full (backpressure) until ctx is done. A message sent to an
// unconnected queue is counted as dropped (and logged if q is "failed").
// Emit keeps its own copy: the caller may keep using m.
func (e *Env) Emit(ctx context.Context, q string, m *Message) error {
	return e.node.emit(ctx, q, m)
}

// Connected reports whether output queue q is connected.
func (e *Env) Connected(q string) bool {
	_, ok := e.node.routes[q]
	if !ok {
		return false
	}
	return e.node.routes[q].dst != nil
}

// Outputs returns the connected dynamic output queues (those not declared
// by the kind), sorted: a fanout's or round-robin's targets. The slice is
// shared: do not modify it.
func (e *Env) Outputs() []string {
	e.outsOnce.Do(func() {
		for q, r := range e.node.routes {
			if r.dst != nil && !e.node.kind.isFixedOut(q) {
				e.outs = append(e.outs, q)
			}
		}
		sort.Strings(e.outs)
	})
	return e.outs
}

// ArgError is returned by Kind.Check to blame one argument.
type ArgError struct {
	Arg string
	Msg string
}

// Error returns `argument "NAME": message`.
func (e *ArgError) Error() string { return fmt.Sprintf("argument %q: %s", e.Arg, e.Msg) }
