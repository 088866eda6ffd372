package pipeline

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/reprieve/reprieve/internal/config"
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

var moduleKeys = "module, arguments, queue_size, on_full, on_failure, workers"

func (l *loader) modules(n *ynode, cfg *Config) {
	if n.Kind != config.Map {
		l.errorf(n.Line, "modules: want a mapping of module names, got %s", describe(n))
		return
	}
	for _, k := range n.Fields {
		name := k.Key
		if !nameRE.MatchString(name) {
			l.errorf(k.Line, "module name %q: use letters, digits, '_' and '-' (no dots)", name)
			continue
		}
		// Keep a module whose arguments are wrong so that routes naming
		// it are still checked; the errors already fail the file.
		if m, _ := l.module(name, k.Line, k.Value, cfg); m.Kind != nil {
			cfg.Modules = append(cfg.Modules, m)
		}
	}
}

func (l *loader) module(name string, line int, n *ynode, cfg *Config) (ModuleConfig, bool) {
	m := ModuleConfig{Name: name, Line: line, QueueSize: cfg.QueueSize, Workers: 1}
	if n.Kind != config.Map {
		l.errorf(n.Line, "module %q: want a mapping with \"module:\" and \"arguments:\", got %s", name, describe(n))
		return m, false
	}
	var kindNode, argsNode *ynode
	ok := true
	for _, k := range n.Fields {
		v := k.Value
		switch k.Key {
		case "module":
			kindNode = v
		case "arguments":
			argsNode = v
		case "queue_size":
			m.QueueSize = l.positive(v, fmt.Sprintf("module %q: queue_size", name))
		case "workers":
			if w := l.positive(v, fmt.Sprintf("module %q: workers", name)); w > 1024 {
				l.errorf(v.Line, "module %q: workers: want at most 1024, got %d", name, w)
			} else {
				m.Workers = w
			}
		case "on_full":
			switch v.Value {
			case "block":
			case "drop":
				m.Drop = true
			default:
				l.errorf(v.Line, "module %q: on_full: want \"block\" or \"drop\", got %s", name, describe(v))
				ok = false
			}
		case "on_failure":
			switch v.Value {
			case "stop":
			case "backoff":
				m.KeepBackingOff = true
			default:
				l.errorf(v.Line, "module %q: on_failure: want \"stop\" (the restart intensity stops the pipeline) or \"backoff\" (keep restarting), got %s", name, describe(v))
				ok = false
			}
		default:
			l.errorf(k.Line, "module %q: unknown key %q (want %s)", name, k.Key, moduleKeys)
			ok = false
		}
	}
	if kindNode == nil {
		l.errorf(line, "module %q: missing \"module:\" (the kind, e.g. output.tcp; 'reprieve modules' lists them)", name)
		return m, false
	}
	kindName, _ := kindNode.Value.(string)
	kind, found := Lookup(kindName)
	if !found {
		hint := "'reprieve modules' lists them"
		var names []string
		for _, k := range Kinds() {
			names = append(names, k.Name)
		}
		if near := config.Nearest(kindName, names); near != "" {
			hint = fmt.Sprintf("did you mean %s? %s", near, hint)
		}
		l.errorf(kindNode.Line, "module %q: unknown module kind %s (%s)", name, describe(kindNode), hint)
		return m, false
	}
	m.Kind = kind
	args, argsOK := l.args(name, kind, argsNode, line)
	m.Args = args
	return m, ok && argsOK
}

func (l *loader) args(name string, kind *Kind, n *ynode, line int) (Args, bool) {
	args := Args{}
	for _, a := range kind.Args {
		args[a.Name] = a.zero()
	}
	argLine := map[string]int{}
	ok := true
	if n != nil && n.Kind != config.Null {
		if n.Kind != config.Map {
			l.errorf(n.Line, "module %q: arguments: want a mapping, got %s", name, describe(n))
			return args, false
		}
		for _, k := range n.Fields {
			key := k.Key
			spec, found := findArg(kind, key)
			if !found {
				l.errorf(k.Line, "module %q: unknown argument %q for %s (arguments: %s)", name, key, kind.Name, argNames(kind))
				ok = false
				continue
			}
			argLine[key] = k.Line
			v, err := decodeArg(spec, k.Value)
			if err != nil {
				l.errorf(k.Value.Line, "module %q: argument %q: %v", name, key, err)
				ok = false
				continue
			}
			args[key] = v
		}
	}
	for _, a := range kind.Args {
		if _, given := argLine[a.Name]; a.Required && !given {
			l.errorf(line, "module %q: missing required argument %q for %s (%s)", name, a.Name, kind.Name, a.Doc)
			ok = false
		}
	}
	if ok && kind.Check != nil {
		if err := kind.Check(args); err != nil {
			at := line
			if ae, isArg := err.(*ArgError); isArg {
				if l, given := argLine[ae.Arg]; given {
					at = l
				}
			}
			l.errorf(at, "module %q: %v", name, err)
			ok = false
		}
	}
	return args, ok
}

func findArg(k *Kind, name string) (Arg, bool) {
	for _, a := range k.Args {
		if a.Name == name {
			return a, true
		}
	}
	return Arg{}, false
}

func argNames(k *Kind) string {
	if len(k.Args) == 0 {
		return "none"
	}
	names := make([]string, len(k.Args))
	for i, a := range k.Args {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

func (l *loader) routes(n *ynode, cfg *Config) {
	if n.Kind != config.List {
		l.errorf(n.Line, "routingtable: want a list of \"module.queue -> module.queue\", got %s", describe(n))
		return
	}
	byName := map[string]*ModuleConfig{}
	for i := range cfg.Modules {
		byName[cfg.Modules[i].Name] = &cfg.Modules[i]
	}
	seen := map[QueueRef]int{}
	for _, e := range n.Items {
		s, _ := e.Value.(string)
		parts := strings.Split(s, "->")
		if e.Kind != config.Scalar || len(parts) != 2 {
			l.errorf(e.Line, "routingtable: want \"module.queue -> module.queue\", got %s", describe(e))
			continue
		}
		from, ok1 := l.queueRef(e.Line, strings.TrimSpace(parts[0]), byName, false)
		to, ok2 := l.queueRef(e.Line, strings.TrimSpace(parts[1]), byName, true)
		if !ok1 || !ok2 {
			continue
		}
		dup := false
		for _, q := range []QueueRef{from, to} {
			if first, twice := seen[q]; twice {
				hint := "use a flow.fanout to copy to several queues"
				if q == to {
					hint = "use a flow.funnel to merge several queues"
				}
				l.errorf(e.Line, "routingtable: queue %q is connected twice (first at line %d); %s", q, first, hint)
				dup = true
			}
		}
		if dup {
			continue
		}
		seen[from], seen[to] = e.Line, e.Line
		cfg.Routes = append(cfg.Routes, Route{From: from, To: to, Line: e.Line})
	}
}

// queueRef parses "module.queue" and checks that the module has such an
// input (dst) or output queue.
func (l *loader) queueRef(line int, s string, mods map[string]*ModuleConfig, dst bool) (QueueRef, bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		l.errorf(line, "routingtable: want \"module.queue\", got %q", s)
		return QueueRef{}, false
	}
	ref := QueueRef{Module: s[:i], Queue: s[i+1:]}
	m, ok := mods[ref.Module]
	if !ok {
		l.errorf(line, "routingtable: unknown module %q in %q", ref.Module, s)
		return ref, false
	}
	if m.Kind == nil {
		return ref, false
	}
	if !nameRE.MatchString(ref.Queue) {
		l.errorf(line, "routingtable: queue name %q: use letters, digits, '_' and '-'", ref.Queue)
		return ref, false
	}
	if dst && !m.Kind.isIn(ref.Queue) {
		l.errorf(line, "routingtable: module %q (%s) has no input queue %q; its input queues: %s", ref.Module, m.Kind.Name, ref.Queue, inQueues(m.Kind))
		return ref, false
	}
	if !dst && !m.Kind.isOut(ref.Queue) {
		l.errorf(line, "routingtable: module %q (%s) has no output queue %q; its output queues: %s", ref.Module, m.Kind.Name, ref.Queue, outQueues(m.Kind))
		return ref, false
	}
	return ref, true
}

func inQueues(k *Kind) string {
	s := strings.Join(k.In, ", ")
	if k.DynamicIn {
		s = strings.TrimPrefix(s+", any name", ", ")
	}
	if s == "" {
		return "none (it is an input)"
	}
	return s
}

func outQueues(k *Kind) string {
	s := strings.Join(k.OutQueues(), ", ")
	if k.DynamicOut {
		s = strings.TrimPrefix(s+", any name", ", ")
	}
	if s == "" {
		return "none (it is an output)"
	}
	return s
}

func (l *loader) deadletter(n *ynode, cfg *Config) {
	s, _ := n.Value.(string)
	byName := map[string]*ModuleConfig{}
	for i := range cfg.Modules {
		byName[cfg.Modules[i].Name] = &cfg.Modules[i]
	}
	ref, ok := l.queueRef(n.Line, strings.TrimSpace(s), byName, true)
	if !ok {
		return
	}
	for _, r := range cfg.Routes {
		if r.To == ref {
			l.errorf(n.Line, "deadletter: queue %q is also connected in the routing table (line %d); give the dead letters a queue of their own", ref, r.Line)
			return
		}
	}
	cfg.DeadLetter = ref
}

// unconnectedFailed warns about every failed queue not in the routing table.
func (l *loader) unconnectedFailed(cfg *Config) {
	connected := map[QueueRef]bool{}
	for _, r := range cfg.Routes {
		connected[r.From] = true
	}
	for _, m := range cfg.Modules {
		if m.Kind == nil || !m.Kind.HasHandler() {
			continue
		}
		q := QueueRef{Module: m.Name, Queue: "failed"}
		if !connected[q] {
			l.warnf(m.Line, "queue %q is not connected: its failed messages will be logged and given up (connect it, e.g. \"%s -> errors.inbox\")", q, q)
		}
	}
}
