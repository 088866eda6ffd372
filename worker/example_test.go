package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/worker"
)

// exampleAddr is an in-process Reprieve server for the examples, started
// by TestMain.
var exampleAddr string

func TestMain(m *testing.M) {
	b := broker.New(broker.Config{})
	srv, err := server.New(server.Config{Broker: b})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	exampleAddr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(ctx)
	cancel()
	<-served
	b.Close()
	os.Exit(code)
}

func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// A producer puts a job into the tube "emails".
	c, err := client.Dial(ctx, exampleAddr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.PutIn(ctx, "emails", []byte("to: ada@example.com"), 0, 0, time.Minute)

	// A worker handles the tube with up to 8 jobs at once. Returning nil
	// deletes the job; an error would send it down the tube's failure path.
	w, err := worker.New(worker.Config{Addrs: []string{exampleAddr}})
	if err != nil {
		fmt.Println(err)
		return
	}
	sent := make(chan struct{})
	w.Handle("emails", func(ctx context.Context, j *worker.Job) error {
		fmt.Printf("attempt %d of job %d: %s\n", j.Attempt, j.ID, j.Body)
		close(sent)
		return nil
	}, worker.TubeOptions{Concurrency: 8})

	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	<-sent
	stop() // a graceful shutdown
	fmt.Println("run:", <-done)
	// Output:
	// attempt 1 of job 1: to: ada@example.com
	// run: <nil>
}

func ExamplePermanent() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	c, _ := client.Dial(ctx, exampleAddr)
	defer c.Close()
	id, _ := c.PutIn(ctx, "invoices", []byte("{not json"), 0, 0, time.Minute)

	w, _ := worker.New(worker.Config{Addrs: []string{exampleAddr}, Logger: slog.New(slog.DiscardHandler)})
	w.Handle("invoices", func(ctx context.Context, j *worker.Job) error {
		// No retry will make this body parse: give up at once. The tube's
		// policy decides where the job goes (bury, by default).
		return worker.Permanent(errors.New("invoice is not JSON"))
	}, worker.TubeOptions{})
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()

	for range 500 {
		if st, err := c.StatsJob(ctx, id); err == nil && st["state"] == "buried" {
			fmt.Println(st["state"], st["failures"], st["last-error"])
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	// Output:
	// buried 1 invoice is not JSON
}

func ExampleLogging() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := worker.New(worker.Config{
		Addrs:      []string{exampleAddr},
		Logger:     logger,
		Middleware: []worker.Middleware{worker.Logging(logger)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	w.Handle("thumbnails", func(ctx context.Context, j *worker.Job) error {
		return nil
	}, worker.TubeOptions{Concurrency: 4, Heartbeat: true})
	fmt.Println("ready")
	// Output: ready
}
