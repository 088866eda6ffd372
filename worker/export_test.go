package worker

import "github.com/reprieve/reprieve/internal/clock"

// WithClock returns cfg with the worker's clock set to c, for the tests:
// TTR budgets, heartbeats, DEADLINE_SOON waits and the worker's pool run
// on it.
func WithClock(cfg Config, c clock.Clock) Config {
	cfg.clock = c
	return cfg
}
