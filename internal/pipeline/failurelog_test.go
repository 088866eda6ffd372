package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// records is a slog handler that keeps each record as "MSG k=v ...".
type records struct {
	mu    sync.Mutex // protects lines
	lines []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Message
	rec.Attrs(func(a slog.Attr) bool { s += fmt.Sprintf(" %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.lines = append(r.lines, s)
	r.mu.Unlock()
	return nil
}

func (r *records) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.lines, "\n")
	r.lines = nil
	return s
}

// TestFailureLogSumsAnInterval: the first failure of an interval is logged
// in full, the rest once as a sum when the interval ends (or at shutdown).
func TestFailureLogSumsAnInterval(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	rec := &records{}
	f := &failureLog{log: slog.New(rec), clock: clk, every: 10 * time.Second}
	for i := range 5 {
		f.failed(fmt.Sprintf("m%d", i), "inbox", 2, 0, errors.New("connection refused"))
	}
	if got, want := rec.take(), "message failed id=m0 queue=inbox hops=2 attempt=0 error=connection refused"; got != want {
		t.Fatalf("five failures logged\n%s\nwant\n%s", got, want)
	}
	clk.Advance(9 * time.Second)
	if got := rec.take(); got != "" {
		t.Fatalf("logged before the interval ended: %s", got)
	}
	clk.Advance(time.Second)
	if got, want := rec.take(), "more messages failed count=4 within=10s last_id=m4 last_error=connection refused"; got != want {
		t.Fatalf("at the interval's end\n%s\nwant\n%s", got, want)
	}
	clk.Advance(time.Minute)
	if got := rec.take(); got != "" {
		t.Fatalf("logged with no failure: %s", got)
	}
	f.failed("m5", "inbox", 3, 1, errors.New("timeout"))
	f.failed("m6", "inbox", 3, 1, errors.New("timeout"))
	f.failed("m7", "inbox", 3, 1, errors.New("reset"))
	f.close()
	want := "message failed id=m5 queue=inbox hops=3 attempt=1 error=timeout\n" +
		"more messages failed count=2 within=10s last_id=m7 last_error=reset"
	if got := rec.take(); got != want {
		t.Fatalf("a new interval and shutdown\n%s\nwant\n%s", got, want)
	}
	clk.Advance(time.Minute)
	if got := rec.take(); got != "" {
		t.Fatalf("the stopped sum was logged again: %s", got)
	}
}
