package worker

import (
	"context"
	"log/slog"
	"time"
)

// Logging returns a middleware that logs every handler call on l when it
// returns: at Debug level for success, Info for an error (the worker logs
// what it then did with the job at Warn), with the tube, job id, attempt
// and duration.
func Logging(l *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, j *Job) error {
			start := time.Now()
			err := next(ctx, j)
			attrs := []any{"tube", j.Tube, "id", j.ID, "attempt", j.Attempt, "took", time.Since(start)}
			if err != nil {
				l.InfoContext(ctx, "worker: handler failed", append(attrs, "err", err)...)
			} else {
				l.DebugContext(ctx, "worker: handler done", attrs...)
			}
			return err
		}
	}
}
