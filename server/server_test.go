package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/server"
)

// config is a quiet config on a free port.
func config(t *testing.T) server.Config {
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// serve starts a server on cfg and serves it until the test ends.
func serve(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

func dial(t *testing.T, addr string) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDurableRestart puts jobs into a durable server, shuts it down, and
// starts another on the same directory: the jobs are there, and the next
// put gets an id never given out (the log's next id is handed to the
// engine as is).
func TestDurableRestart(t *testing.T) {
	ctx := context.Background()
	cfg := config(t)
	cfg.DataDir = t.TempDir()
	cfg.Fsync = "always"
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx)
	c := dial(t, srv.Addr())
	for i := range 3 {
		if id, err := c.PutIn(ctx, "keep", []byte{'a' + byte(i)}, 0, 0, time.Minute); err != nil || id != uint64(i+1) {
			t.Fatalf("put %d: id %d, %v", i, id, err)
		}
	}
	c.Delete(ctx, 3)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ctx); !errors.Is(err, server.ErrServed) {
		t.Errorf("Serve after Shutdown: %v, want ErrServed", err)
	}

	srv2 := serve(t, cfg)
	c2 := dial(t, srv2.Addr())
	st, err := c2.StatsTube(ctx, "keep")
	if err != nil || st["current-jobs-ready"] != "2" {
		t.Fatalf("after restart: %v %v, want 2 ready jobs", st, err)
	}
	if j, err := c2.Peek(ctx, 2); err != nil || string(j.Body) != "b" {
		t.Fatalf("peek 2: %q %v", j.Body, err)
	}
	// The log hands out ids in blocks it marks ahead, so the next id may
	// jump; it must never reuse one.
	if id, err := c2.PutIn(ctx, "keep", []byte("d"), 0, 0, time.Minute); err != nil || id < 4 {
		t.Fatalf("put after restart: id %d, %v; want a new id, 4 or more", id, err)
	}
}

// TestReload changes the policy file: a broken file is refused and the
// old policies stay, a good one is put in force.
func TestReload(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "policies.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tubes:\n  work:\n    retry: {initial: 10s, max-attempts: 5}\n")
	cfg := config(t)
	cfg.PolicyFile = file
	srv := serve(t, cfg)
	c := dial(t, srv.Addr())
	c.Watch(ctx, "work")
	failOnce := func() string {
		t.Helper()
		id, err := c.PutIn(ctx, "work", []byte("x"), 0, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReserveJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		res, err := c.Fail(ctx, id, "boom")
		if err != nil {
			t.Fatal(err)
		}
		return res.Action
	}
	if got := failOnce(); got != client.FailRetry {
		t.Fatalf("fail with the first file: %s, want retry", got)
	}
	write("tubes:\n  work:\n    retries: {}\n")
	if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), "retries") {
		t.Fatalf("Reload of a broken file: %v, want an error naming the bad key", err)
	}
	if got := failOnce(); got != client.FailRetry {
		t.Fatalf("fail after a refused reload: %s, want retry (old policies)", got)
	}
	write("tubes:\n  work:\n    give-up: delete\n")
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := failOnce(); got != client.FailDeleted {
		t.Fatalf("fail after reload: %s, want deleted", got)
	}
}

// TestServeStopsWithContext serves until the context ends: Serve returns
// nil, a blocked reserve is answered, and the port is closed.
func TestServeStopsWithContext(t *testing.T) {
	cfg := config(t)
	cfg.Admin.Listen = "127.0.0.1:0"
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.AdminURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin /healthz: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	c := dial(t, srv.Addr())
	reserved := make(chan error, 1)
	go func() { _, err := c.Reserve(context.Background()); reserved <- err }()
	time.Sleep(50 * time.Millisecond) // let the reserve block; the test holds either way
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return 20s after its context ended")
	}
	if err := <-reserved; err == nil {
		t.Error("the blocked reserve got a job")
	}
	if nc, err := net.Dial("tcp", srv.Addr()); err == nil {
		nc.Close()
		t.Error("the job port still accepts after Serve returned")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *server.Config)
		want string
	}{
		{"defaults", func(c *server.Config) {}, ""},
		{"listen", func(c *server.Config) { c.Listen = "11300" }, "Listen"},
		{"job size", func(c *server.Config) { c.MaxJobSize = 0 }, "MaxJobSize"},
		{"half a pair", func(c *server.Config) { c.TLSCertFile = "x.pem" }, "TLSKeyFile"},
		{"admin beyond loopback", func(c *server.Config) { c.Admin.Listen = "0.0.0.0:8080" }, "not a loopback address"},
		{"admin token", func(c *server.Config) { c.Admin.Token = "x" }, "Admin.Listen"},
		{"cluster", func(c *server.Config) {
			c.DataDir, c.Cluster.Name, c.Cluster.Node, c.Cluster.Replicas = "/tmp/x", "jobs", "n1", 1
			c.Cluster.RouteListen = "127.0.0.1:6222"
		}, ""},
		{"cluster without a name", func(c *server.Config) { c.Cluster.NATSURL = "nats://127.0.0.1:4222" }, "Cluster.Name"},
		{"cluster without data", func(c *server.Config) {
			c.Cluster.Name, c.Cluster.Node, c.Cluster.RouteListen = "jobs", "n1", "127.0.0.1:6222"
		}, "set DataDir"},
		{"cluster replicas", func(c *server.Config) {
			c.DataDir, c.Cluster.Name, c.Cluster.Node, c.Cluster.RouteListen = "/tmp/x", "jobs", "n1", "127.0.0.1:6222"
			c.Cluster.Replicas = 2
		}, "replicas 2: want 1, 3 or 5"},
		{"cluster too few peers", func(c *server.Config) {
			c.DataDir, c.Cluster.Name, c.Cluster.Node, c.Cluster.RouteListen = "/tmp/x", "jobs", "n1", "127.0.0.1:6222"
		}, "want at least as many nodes as replicas"},
		{"cluster sync", func(c *server.Config) {
			c.Cluster.Name, c.Cluster.NATSURL, c.Cluster.Sync = "jobs", "nats://127.0.0.1:4222", "sometimes"
		}, "Cluster.Sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := server.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, server.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want ErrConfig naming %s", err, tc.want)
			}
		})
	}
}
