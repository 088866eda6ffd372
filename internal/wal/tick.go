package wal

import (
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// tickRec is the latest tick record of one schedule: its seq, the tick,
// and where the record lives (compaction moves it).
type tickRec struct {
	seq uint64
	at  time.Time
	lc  loc
}

// Tick records that the periodic job schedule fired at, putting job id
// (journal.Ticker). The record goes to the hot log, before the job's put.
func (l *Log) Tick(schedule string, at time.Time, id job.ID) (journal.Commit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	l.seq++
	l.scratch = appendTick(l.scratch[:0], l.seq, id, schedule, at)
	lc, err := l.place(l.stores[hot], l.scratch, forUpdate)
	if err != nil {
		return nil, err
	}
	l.ticks[schedule] = tickRec{seq: l.seq, at: at, lc: lc}
	return l.commit(), nil
}

// replayTick keeps r if it is the newest tick of its schedule so far.
func (l *Log) replayTick(r record, lc loc) {
	if cur, ok := l.ticks[r.name]; !ok || r.seq >= cur.seq {
		l.ticks[r.name] = tickRec{seq: r.seq, at: r.at, lc: lc}
	}
}

// recoveredTicks returns the last tick of each schedule.
func (l *Log) recoveredTicks() map[string]time.Time {
	out := make(map[string]time.Time, len(l.ticks))
	for name, t := range l.ticks {
		out[name] = t.at
	}
	return out
}
