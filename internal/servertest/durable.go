package servertest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/reprieve/reprieve/server"
)

// StartDurable starts a whole server in-process, as `reprieve serve`
// assembles it (the server package), on 127.0.0.1:0 with its durable log
// in dir (a new t.TempDir() if ""), fsync always, and logs discarded;
// edit, if set, changes the config first. t.Cleanup shuts it down. Start
// another on the same dir after Shutdown to see what survived.
func StartDurable(t testing.TB, dir string, edit func(*server.Config)) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Fsync = "always"
	cfg.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("servertest: serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("servertest: the server did not stop 30s after its context ended")
		}
	})
	return srv
}
