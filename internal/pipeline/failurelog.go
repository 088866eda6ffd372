package pipeline

import (
	"log/slog"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// FailureLogInterval is how often a module logs a failed message in full:
// the first failure of each interval is logged with its error, the others
// are summed in one line when the interval ends. A failover chain whose
// destinations are all down thus logs a few lines per module per interval,
// not one per message and hop; the error chain of each message is kept in
// full on the message itself.
const FailureLogInterval = 10 * time.Second

// failureLog is one module's rate-limited WARN of failed messages.
type failureLog struct {
	log   *slog.Logger
	clock clock.Clock
	every time.Duration

	mu     sync.Mutex  // protects the fields below
	until  time.Time   // the end of the current interval; zero before the first failure
	n      int         // failures of the interval not logged yet
	lastID string      // the newest of them
	last   string      // its error
	timer  clock.Timer // flushes the interval's sum; nil when none is pending
}

// failed logs a failed message, or counts it for the interval's sum.
func (f *failureLog) failed(id, queue string, hops, attempt int, err error) {
	f.mu.Lock()
	now := f.clock.Now()
	if f.until.IsZero() || !now.Before(f.until) {
		f.until = now.Add(f.every)
		f.mu.Unlock()
		f.log.Warn("message failed", "id", id, "queue", queue, "hops", hops, "attempt", attempt, "error", err)
		return
	}
	f.n++
	f.lastID, f.last = id, err.Error()
	if f.timer == nil {
		f.timer = f.clock.AfterFunc(f.until.Sub(now), f.flush)
	}
	f.mu.Unlock()
}

// flush logs the sum of the failures not logged yet, if any.
func (f *failureLog) flush() {
	f.mu.Lock()
	n, id, last := f.n, f.lastID, f.last
	f.n, f.timer = 0, nil
	f.mu.Unlock()
	if n > 0 {
		f.log.Warn("more messages failed", "count", n, "within", f.every, "last_id", id, "last_error", last)
	}
}

// close stops the pending sum and logs it now (at shutdown).
func (f *failureLog) close() {
	f.mu.Lock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
	f.flush()
}
