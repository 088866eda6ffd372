package broker

import (
	"context"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/job"
)

// Broker is the job engine: tubes, their heaps, reservations, timers.
type Broker struct {
	cfg Config
}

// New returns a Broker configured by cfg.
func New(cfg Config) *Broker {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.MaxJobSize == 0 {
		cfg.MaxJobSize = 65535
	}
	return &Broker{cfg: cfg}
}

// Close wakes blocked reservers with ErrClosed.
func (b *Broker) Close() {}

// Open returns a new Session, one per client connection.
func (b *Broker) Open() *Session { return &Session{b: b} }

// Stats returns the engine's part of the stats reply.
func (b *Broker) Stats() ServerStats { return ServerStats{} }

// StatsTube returns stats-tube for name, or ErrNotFound.
func (b *Broker) StatsTube(name string) (TubeStats, error) { return TubeStats{}, ErrNotFound }

// StatsJob returns stats-job for id, or ErrNotFound.
func (b *Broker) StatsJob(id job.ID) (JobStats, error) { return JobStats{}, ErrNotFound }

// ListTubes returns the tube names in creation order, "default" first.
func (b *Broker) ListTubes() []string { return []string{"default"} }

// Peek returns job id, or ErrNotFound.
func (b *Broker) Peek(id job.ID) (Peeked, error) { return Peeked{}, ErrNotFound }

// PeekReady returns the next ready job of tube, or ErrNotFound.
func (b *Broker) PeekReady(tube string) (Peeked, error) { return Peeked{}, ErrNotFound }

// PeekDelayed returns the delayed job of tube due first, or ErrNotFound.
func (b *Broker) PeekDelayed(tube string) (Peeked, error) { return Peeked{}, ErrNotFound }

// PeekBuried returns the oldest buried job of tube, or ErrNotFound.
func (b *Broker) PeekBuried(tube string) (Peeked, error) { return Peeked{}, ErrNotFound }

// KickJob kicks a buried or delayed job; else ErrNotFound.
func (b *Broker) KickJob(id job.ID) error { return ErrNotFound }

// PauseTube pauses tube name for d; ErrNotFound if it does not exist.
func (b *Broker) PauseTube(name string, d time.Duration) error { return ErrNotFound }

// SetDraining turns drain mode on or off.
func (b *Broker) SetDraining(on bool) {}

// Restore rebuilds state from jobs recovered from the log.
func (b *Broker) Restore(jobs []*job.Job, nextID job.ID) {}

// Session is one client's view.
type Session struct {
	b *Broker
}

// Close returns reserved jobs to ready.
func (s *Session) Close() {}

// Use sets the used tube, creating it.
func (s *Session) Use(tube string) {}

// Used returns the used tube.
func (s *Session) Used() string { return "default" }

// Watch adds tube to the watch list and returns the count watched.
func (s *Session) Watch(tube string) int { return 1 }

// Ignore removes tube from the watch list.
func (s *Session) Ignore(tube string) (int, error) { return 1, ErrNotIgnored }

// Watched returns the watched tubes.
func (s *Session) Watched() []string { return []string{"default"} }

// Put inserts a job into the used tube.
func (s *Session) Put(pri uint32, delay, ttr time.Duration, body []byte) (job.ID, error) {
	return 0, ErrOutOfMemory
}

// Reserve reserves a job from the watched tubes.
func (s *Session) Reserve(ctx context.Context, timeout time.Duration) (Reserved, error) {
	return Reserved{}, ErrTimedOut
}

// ReserveJob reserves job id.
func (s *Session) ReserveJob(id job.ID) (Reserved, error) { return Reserved{}, ErrNotFound }

// Delete deletes job id.
func (s *Session) Delete(id job.ID) error { return ErrNotFound }

// Release releases a job reserved by this session.
func (s *Session) Release(id job.ID, pri uint32, delay time.Duration) error { return ErrNotFound }

// Bury buries a job reserved by this session.
func (s *Session) Bury(id job.ID, pri uint32) error { return ErrNotFound }

// Touch renews the TTR of a job reserved by this session.
func (s *Session) Touch(id job.ID) error { return ErrNotFound }

// Kick kicks up to bound jobs in the used tube.
func (s *Session) Kick(bound int) int { return 0 }
