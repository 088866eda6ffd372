package apitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// program is a user's program: it embeds a server, puts three jobs and
// runs a worker that handles them (one fails for good), then prints what
// the server says of each.
const program = `package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/server"
	"github.com/reprieve/reprieve/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = os.Args[1]
	cfg.Logger = quiet
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	c, err := client.Dial(ctx, srv.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	var ids []uint64
	for _, body := range []string{"a", "bad", "c"} {
		id, err := c.PutIn(ctx, "jobs", []byte(body), 0, 0, time.Minute)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}

	w, err := worker.New(worker.Config{Addrs: []string{srv.Addr()}, Logger: quiet})
	if err != nil {
		return err
	}
	w.Handle("jobs", func(ctx context.Context, j *worker.Job) error {
		if string(j.Body) == "bad" {
			return worker.Permanent(errors.New("cannot handle bad"))
		}
		return nil
	}, worker.TubeOptions{Concurrency: 2})
	wctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- w.Run(wctx) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := c.StatsTube(ctx, "jobs")
		if err != nil {
			return err
		}
		if st["current-jobs-ready"] == "0" && st["current-jobs-reserved"] == "0" && st["current-jobs-buried"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("jobs not handled after 20s: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-ran; err != nil {
		return err
	}
	for _, id := range ids {
		st, err := c.StatsJob(ctx, id)
		if errors.Is(err, client.ErrNotFound) {
			fmt.Printf("job %d: deleted\n", id)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Printf("job %d: %s after %s failure: %s\n", id, st["state"], st["failures"], st["last-error"])
	}
	cancel()
	return <-served
}
`

// TestExternalModule builds a program in a module of its own that imports
// the public packages through a replace directive pointing at this
// checkout, and runs it: a producer and a worker against an embedded
// server. It needs no network: the dependencies come from the local module
// cache (this module's go.sum vouches for them).
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program: skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(self), "..", ".."))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.26\n\nrequire github.com/reprieve/reprieve v0.0.0\n\nreplace github.com/reprieve/reprieve => " + root + "\n"
	for name, text := range map[string]string{"go.mod": gomod, "go.sum": string(sum), "main.go": program} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gobin, "run", ".", t.TempDir())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run in %s: %v\n%s", dir, err, out)
	}
	want := "job 1: deleted\njob 2: buried after 1 failure: cannot handle bad\njob 3: deleted\n"
	if got := string(out); got != want {
		t.Fatalf("the program printed\n%s\nwant\n%s", got, want)
	}
}
