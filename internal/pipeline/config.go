package pipeline

import (
	"errors"
	"fmt"
	"github.com/reprieve/reprieve/internal/config"
	"os"
	"sort"
	"strings"
	"time"
)

// Defaults for the bootstrap file's top-level settings.
const (
	DefaultQueueSize = 100
	DefaultHopBudget = 64
)

// Config is a validated bootstrap file.
type Config struct {
	// File is the path the config was read from, for messages.
	File string
	// QueueSize bounds every input queue unless a module sets its own.
	QueueSize int
	// HopBudget is how many queue transfers a message may make before it is
	// sent to the terminal failed path (breaks routing cycles).
	HopBudget int
	// DeadLetter is the queue ("module.queue") that receives messages whose
	// hop budget is exhausted; empty means log and count them as dropped.
	DeadLetter QueueRef
	// Supervisor is the restart policy for every module's run loop.
	Supervisor SupervisorConfig
	// Modules in file order.
	Modules []ModuleConfig
	// Routes in file order.
	Routes []Route
}

// SupervisorConfig is the "supervisor:" section.
type SupervisorConfig struct {
	// Backoff is the first restart delay; it doubles per recent failure.
	Backoff time.Duration
	// MaxBackoff caps the delay.
	MaxBackoff time.Duration
	// FailureThreshold is the restart intensity: more decayed failures than
	// this stops the pipeline (or, for modules with on_failure: backoff,
	// keeps them backing off at MaxBackoff).
	FailureThreshold float64
	// FailureDecay is the half-life of a failure's weight.
	FailureDecay time.Duration
}

// DefaultSupervisor returns the supervisor settings used when the file has
// no "supervisor:" section.
func DefaultSupervisor() SupervisorConfig {
	return SupervisorConfig{Backoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, FailureThreshold: 5, FailureDecay: 30 * time.Second}
}

// ModuleConfig is one entry of "modules:".
type ModuleConfig struct {
	Name string
	Kind *Kind
	Args Args
	// QueueSize bounds this module's input queues.
	QueueSize int
	// Drop makes a full input queue drop (and count) instead of block.
	Drop bool
	// KeepBackingOff exempts the module from the restart intensity limit.
	KeepBackingOff bool
	// Workers is how many goroutines handle each input queue (default 1;
	// more than one gives up ordering for parallelism).
	Workers int
	// Line is where the module is defined.
	Line int
}

// QueueRef names one queue of one module.
type QueueRef struct{ Module, Queue string }

// String returns "module.queue".
func (q QueueRef) String() string { return q.Module + "." + q.Queue }

// Route is one routing table entry.
type Route struct {
	From, To QueueRef
	Line     int
}

// Diagnostic is one problem found in a bootstrap file.
type Diagnostic struct {
	File    string
	Line    int
	Warning bool
	Msg     string
}

// String returns "FILE:LINE: message" (with "warning: " for warnings).
func (d Diagnostic) String() string {
	w := ""
	if d.Warning {
		w = "warning: "
	}
	return fmt.Sprintf("%s:%d: %s%s", d.File, d.Line, w, d.Msg)
}

// ErrInvalid is wrapped by the error LoadFile and Parse return for a file
// with errors; the *InvalidError lists them.
var ErrInvalid = errors.New("pipeline: invalid bootstrap file")

// InvalidError lists every error found in a bootstrap file.
type InvalidError struct{ Diags []Diagnostic }

// Error lists the diagnostics, one per line.
func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Diags))
	for i, d := range e.Diags {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// LoadFile reads and validates a bootstrap file. It returns the config and
// its warnings, or an *InvalidError listing every error with file and line.
func LoadFile(path string) (*Config, []Diagnostic, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: read bootstrap file: %w", err)
	}
	return Parse(path, src)
}

// Parse validates bootstrap source; file is used in messages only.
func Parse(file string, src []byte) (*Config, []Diagnostic, error) {
	l := &loader{file: file}
	cfg := l.load(src)
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	if len(l.errs) > 0 {
		return nil, l.warns, &InvalidError{Diags: l.errs}
	}
	return cfg, l.warns, nil
}

type loader struct {
	file  string
	errs  []Diagnostic
	warns []Diagnostic
}

func (l *loader) errorf(line int, format string, a ...any) {
	l.errs = append(l.errs, Diagnostic{File: l.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

func (l *loader) warnf(line int, format string, a ...any) {
	l.warns = append(l.warns, Diagnostic{File: l.file, Line: line, Warning: true, Msg: fmt.Sprintf(format, a...)})
}

var topKeys = []string{"modules", "routingtable", "queue_size", "hop_budget", "deadletter", "supervisor"}

func (l *loader) load(src []byte) *Config {
	root, err := config.Parse(src)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			l.errorf(max(ce.Line, 1), "%s; %s", ce.What, ce.Fix)
		} else {
			l.errorf(1, "%v", err)
		}
		return nil
	}
	cfg := &Config{File: l.file, QueueSize: DefaultQueueSize, HopBudget: DefaultHopBudget, Supervisor: DefaultSupervisor()}
	if root.Kind != config.Map {
		l.errorf(root.Line, "the bootstrap file must be a mapping with \"modules:\" and \"routingtable:\", got %s", describe(root))
		return cfg
	}
	var modules, routes, dead *ynode
	for _, k := range root.Fields {
		v := k.Value
		switch k.Key {
		case "modules":
			modules = v
		case "routingtable":
			routes = v
		case "queue_size":
			cfg.QueueSize = l.positive(v, "queue_size")
		case "hop_budget":
			cfg.HopBudget = l.positive(v, "hop_budget")
		case "deadletter":
			dead = v
		case "supervisor":
			l.supervisor(v, &cfg.Supervisor)
		default:
			l.errorf(k.Line, "unknown top-level key %q (want one of %s)", k.Key, strings.Join(topKeys, ", "))
		}
	}
	if modules == nil {
		l.errorf(root.Line, "no \"modules:\" section")
		return cfg
	}
	l.modules(modules, cfg)
	if routes != nil {
		l.routes(routes, cfg)
	}
	if dead != nil {
		l.deadletter(dead, cfg)
	}
	l.unconnectedFailed(cfg)
	return cfg
}

func (l *loader) positive(n *ynode, what string) int {
	v, ok := intValue(n)
	if n.Kind != config.Scalar || !ok || v < 1 || v > 1<<24 {
		l.errorf(n.Line, "%s: want an integer from 1 to %d, got %s", what, 1<<24, describe(n))
		return 1
	}
	return int(v)
}

func (l *loader) supervisor(n *ynode, s *SupervisorConfig) {
	if n.Kind != config.Map {
		l.errorf(n.Line, "supervisor: want a mapping, got %s", describe(n))
		return
	}
	for _, k := range n.Fields {
		v := k.Value
		dur := func(dst *time.Duration) {
			d, err := decodeArg(Arg{Type: Duration}, v)
			if err != nil {
				l.errorf(v.Line, "supervisor.%s: %v", k.Key, err)
				return
			}
			*dst = d.(time.Duration)
		}
		switch k.Key {
		case "backoff":
			dur(&s.Backoff)
		case "max_backoff":
			dur(&s.MaxBackoff)
		case "failure_decay":
			dur(&s.FailureDecay)
		case "failure_threshold":
			f, err := decodeArg(Arg{Type: Float}, v)
			if err != nil || f.(float64) < 1 {
				l.errorf(v.Line, "supervisor.failure_threshold: want a number >= 1, got %s", describe(v))
				continue
			}
			s.FailureThreshold = f.(float64)
		default:
			l.errorf(k.Line, "supervisor: unknown key %q (want backoff, max_backoff, failure_threshold, failure_decay)", k.Key)
		}
	}
}

// intValue returns an integer scalar's value.
func intValue(n *ynode) (int64, bool) {
	switch v := n.Value.(type) {
	case int64:
		return v, true
	case uint64:
		if v <= 1<<62 {
			return int64(v), true
		}
	}
	return 0, false
}
