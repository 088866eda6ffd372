package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
	"github.com/reprieve/reprieve/server"
)

// freeAddr returns a free 127.0.0.1 address for a NATS route port.
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := servertest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

// dialLeader connects to addr once the node serves as leader: a
// connection accepted while it still follows is closed when it leads.
func dialLeader(t *testing.T, addr string) *client.Conn {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := client.Dial(ctx, addr)
		if err == nil {
			st, serr := c.Stats(ctx)
			if serr == nil && st["cluster-role"] == "leader" {
				t.Cleanup(func() { c.Close() })
				return c
			}
			c.Close()
			err = serr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not serve as leader after 30s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterRestart runs a one-node cluster (embedded NATS, one
// replica) through the library: Serve leads and serves, the jobs go to
// the stream; a second server on the same directory after Shutdown
// restores them from the stream, and the next put gets a new id.
func TestClusterRestart(t *testing.T) {
	ctx := context.Background()
	cfg := config(t)
	cfg.DataDir = t.TempDir()
	cfg.Cluster.Name, cfg.Cluster.Node, cfg.Cluster.Replicas = "jobs", "n1", 1
	cfg.Cluster.RouteListen = freeAddr(t)
	cfg.Cluster.Lease = time.Second

	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx)
	c := dialLeader(t, srv.Addr())
	for i := range 3 {
		if id, err := c.PutIn(ctx, "keep", []byte{'a' + byte(i)}, 0, 0, time.Minute); err != nil || id != uint64(i+1) {
			t.Fatalf("put %d: id %d, %v", i, id, err)
		}
	}
	if err := c.Delete(ctx, 3); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st["cluster-role"] != "leader" || st["cluster-node"] != "n1" || st["cluster-term"] != "1" {
		t.Fatalf("stats: %v %v, want leader n1 in term 1", st, err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	srv2 := serve(t, cfg)
	c2 := dialLeader(t, srv2.Addr())
	st, err = c2.StatsTube(ctx, "keep")
	if err != nil || st["current-jobs-ready"] != "2" {
		t.Fatalf("after restart: %v %v, want 2 ready jobs", st, err)
	}
	if j, err := c2.Peek(ctx, 2); err != nil || string(j.Body) != "b" {
		t.Fatalf("peek 2: %q %v", j.Body, err)
	}
	if id, err := c2.PutIn(ctx, "keep", []byte("d"), 0, 0, time.Minute); err != nil || id < 4 {
		t.Fatalf("put after restart: id %d, %v; want a new id, 4 or more", id, err)
	}
}

// TestClusterStartWithoutMajority starts a node whose two peers are not
// running, so JetStream has no majority: New fails with a SettingError
// for Cluster once its StartTimeout has passed.
func TestClusterStartWithoutMajority(t *testing.T) {
	cfg := config(t)
	cfg.DataDir = t.TempDir()
	cfg.Cluster.Name, cfg.Cluster.Node = "jobs", "n1"
	cfg.Cluster.RouteListen = freeAddr(t)
	cfg.Cluster.Peers = []string{freeAddr(t), freeAddr(t)}
	cfg.Cluster.StartTimeout = 2 * time.Second
	srv, err := server.New(cfg)
	var se *server.SettingError
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("New succeeded without a majority of the peers")
	}
	if !errors.As(err, &se) || se.Setting != "Cluster" {
		t.Fatalf("New: %v, want a SettingError for Cluster", err)
	}
}
