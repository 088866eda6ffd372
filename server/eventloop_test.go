package server_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/reprieve/reprieve/internal/testhook"
	"github.com/reprieve/reprieve/server"
)

// TestEventLoopChoice checks which core serves a plain connection: the
// event loop by default on Linux, a goroutine with GoroutinePerConnection
// or FsyncAlways (a put waits for its fsync, which would hold up the
// loop).
func TestEventLoopChoice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*server.Config)
		looped int
	}{
		{"in memory", func(c *server.Config) { c.DataDir = "" }, 1},
		{"fsync interval", func(c *server.Config) { c.DataDir = t.TempDir() }, 1},
		{"fsync always", func(c *server.Config) { c.DataDir, c.Fsync = t.TempDir(), "always" }, 0},
		{"goroutine per connection", func(c *server.Config) { c.DataDir, c.GoroutinePerConnection = "", true }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t)
			tc.set(&cfg)
			srv := serve(t, cfg)
			c := dial(t, srv.Addr())
			if _, err := c.Put(context.Background(), []byte("x"), 0, 0, 60); err != nil {
				t.Fatal(err)
			}
			want := tc.looped
			if runtime.GOOS != "linux" {
				want = 0
			}
			// The loop takes a connection as it is accepted, before its
			// first command: after an answered put the count is settled.
			if got := testhook.EventLooped(srv); got != want {
				t.Fatalf("the event loop serves %d connections, want %d", got, want)
			}
		})
	}
}
