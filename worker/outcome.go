package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/reprieve/reprieve/client"
)

// outcome finishes r's job by what its handler returned.
func (w *Worker) outcome(r *run, err error) {
	j, h, log := r.job, r.h, w.cfg.Logger
	if err == nil {
		w.finishWith(r.t, h, func(ctx context.Context) error { return h.Delete(ctx) })
		return
	}
	attrs := []any{"tube", j.Tube, "id", j.ID, "server", j.Server, "attempt", j.Attempt}
	var ra *retryAfterError
	var perm *permanentError
	permanent := errors.As(err, &perm)
	plain := w.isPlain(j.Server)
	switch {
	case errors.As(err, &ra):
		log.Info("worker: job released for a retry", append(attrs, "delay", ra.delay, "err", ra.err)...)
		w.finishWith(r.t, h, func(ctx context.Context) error { return h.Release(ctx, j.Priority, ra.delay) })
	case plain && (permanent || j.Attempt >= w.cfg.MaxAttempts):
		log.Warn("worker: job failed; buried", append(attrs, "err", err.Error())...)
		w.finishWith(r.t, h, func(ctx context.Context) error { return h.Bury(ctx, j.Priority) })
	case plain:
		d := w.cfg.Backoff(j.Attempt)
		log.Warn("worker: job failed; released for a retry", append(attrs, "delay", d, "err", err.Error())...)
		w.finishWith(r.t, h, func(ctx context.Context) error { return h.Release(ctx, j.Priority, d) })
	default:
		var res client.FailResult
		ferr := w.finishWith(r.t, h, func(ctx context.Context) (err2 error) {
			if permanent {
				res, err2 = h.GiveUp(ctx, err.Error())
			} else {
				res, err2 = h.Fail(ctx, err.Error())
			}
			return err2
		})
		switch {
		case errors.Is(ferr, client.ErrUnknownCommand):
			// Not Reprieve after all: the connection closed, so the job is
			// ready again, and its next failure follows the worker's schedule.
			w.setPlain(j.Server, true)
			log.Warn("worker: job failed; the server has no fail command, so it is tried again", append(attrs, "err", err.Error())...)
		case ferr == nil:
			level := slog.LevelWarn
			if res.Action == client.FailRetry {
				level = slog.LevelInfo
			}
			log.Log(context.Background(), level, "worker: job failed; "+res.String(), append(attrs, "err", err.Error())...)
		}
	}
}

// finishWith runs op, a command that finishes h's job, bounded by
// finishTimeout, and logs its failure (other than UNKNOWN_COMMAND, which
// the caller handles).
func (w *Worker) finishWith(t tube, h *client.Handle, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	err := op(ctx)
	if err != nil && !errors.Is(err, client.ErrUnknownCommand) {
		w.cfg.Logger.Warn("worker: could not finish job", "tube", t.name, "id", h.ID, "server", h.Addr, "err", err)
	}
	return err
}
