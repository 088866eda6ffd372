package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/wal"
)

// TestScheduleSurvivesRestart runs a real server on a data directory
// whose log says the schedule last fired five minutes ago: with catch-up
// once it puts one job at start; SIGKILLed and started again, it puts
// none (the catch-up tick is in the log) and the job is still there.
func TestScheduleSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	bin := buildReprieve(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "reprieve.yaml")
	if err := os.WriteFile(config, []byte(`schedules:
  beat:
    cron: "@every 1h"
    tube: beats
    body: tick
    catch-up: once
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	l, _, err := wal.Open(wal.Options{Dir: data, Fsync: wal.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Tick("beat", time.Now().Add(-5*time.Hour), 1)
	if err == nil {
		err = c.Wait()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	addr := freePort(t)
	args := []string{"--data", data, "--fsync", "always", "--config", config}
	srv := startReprieve(t, bin, addr, args...)
	ctx := context.Background()
	cl, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var st client.Stats
	for {
		st, err = cl.StatsTube(ctx, "beats")
		if err == nil && st["total-jobs"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no catch-up job within 20 s: %v, %v\n%s", st, err, srv.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cl.Use(ctx, "beats"); err != nil {
		t.Fatal(err)
	}
	first, err := cl.PeekReady(ctx)
	if err != nil || string(first.Body) != "tick" {
		t.Fatalf("peek-ready: %+v, %v", first, err)
	}
	// A put answered under --fsync always is on disk, and so is every
	// record logged before it: the tick and its job.
	if _, err := cl.PutIn(ctx, "marker", []byte("m"), 0, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	srv.kill(t)

	srv = startReprieve(t, bin, addr, args...)
	cl, err = client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Use(ctx, "beats"); err != nil {
		t.Fatal(err)
	}
	st, err = cl.StatsTube(ctx, "beats")
	if err != nil || st["current-jobs-ready"] != "1" {
		t.Fatalf("after the restart: %v, %v\n%s", st, err, srv.output())
	}
	again, err := cl.PeekReady(ctx)
	if err != nil || again.ID != first.ID {
		t.Fatalf("after the restart the ready job is %+v (%v), want the catch-up job %d", again, err, first.ID)
	}
}
