package pipeline

import (
	"fmt"
	"io"
)

// QueueStats are the counters of one queue of one module.
type QueueStats struct {
	Queue string
	// Input is true for a queue the module consumes, false for one it emits to.
	Input bool
	// In counts messages accepted into an input queue, or emitted by the
	// module to an output queue.
	In uint64
	// Out counts messages taken by the module from an input queue, or
	// forwarded from an output queue to its connected destination.
	Out uint64
	// Dropped counts messages dropped because an on_full: drop queue was
	// full (input), or emitted to an unconnected output queue.
	Dropped uint64
	// Size is how many messages wait in an input queue now.
	Size int
}

// ModuleStats are one module's counters.
type ModuleStats struct {
	Module, Kind string
	// Handled and Failed count Handle calls that returned nil or failed.
	Handled, Failed uint64
	// Dead counts messages whose hop budget ran out at this module.
	Dead uint64
	// Restarts counts supervisor restarts of the module's run loop.
	Restarts uint64
	Queues   []QueueStats
}

// Stats returns a snapshot of every module's counters, in file order. It
// is safe to call while the pipeline runs.
func (p *Pipeline) Stats() []ModuleStats {
	out := make([]ModuleStats, 0, len(p.nodes))
	for _, n := range p.nodes {
		ms := ModuleStats{Module: n.cfg.Name, Kind: n.kind.Name, Handled: n.handled.Load(), Failed: n.failed.Load(),
			Dead: n.dead.Load(), Restarts: n.restarts.Load()}
		for _, name := range sortedKeys(n.inq) {
			q := n.inq[name]
			ms.Queues = append(ms.Queues, QueueStats{Queue: name, Input: true, In: q.in.Load(), Out: q.out.Load(), Dropped: q.dropped.Load(), Size: len(q.ch)})
		}
		for _, name := range sortedKeys(n.routes) {
			r := n.routes[name]
			ms.Queues = append(ms.Queues, QueueStats{Queue: name, In: r.emitted.Load(), Out: r.forwarded.Load(), Dropped: r.discarded.Load()})
		}
		out = append(out, ms)
	}
	return out
}

// WriteStats prints stats as one line per queue, for --debug.
func WriteStats(w io.Writer, stats []ModuleStats) {
	for _, m := range stats {
		fmt.Fprintf(w, "%s (%s): handled=%d failed=%d dead=%d restarts=%d\n", m.Module, m.Kind, m.Handled, m.Failed, m.Dead, m.Restarts)
		for _, q := range m.Queues {
			dir := "out"
			if q.Input {
				dir = "in "
			}
			fmt.Fprintf(w, "  %s %-12s in=%d out=%d dropped=%d size=%d\n", dir, q.Queue, q.In, q.Out, q.Dropped, q.Size)
		}
	}
}
