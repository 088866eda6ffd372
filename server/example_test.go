package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/server"
)

func Example() {
	dir, _ := os.MkdirTemp("", "reprieve-example-")
	defer os.RemoveAll(dir)

	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0" // a free port
	cfg.DataDir = dir          // durable: jobs survive a restart
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()

	c, err := client.Dial(ctx, srv.Addr())
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _ := c.PutIn(ctx, "emails", []byte("hello"), 0, 0, time.Minute)
	fmt.Println("put job", id)
	c.Close()

	stop() // graceful shutdown
	fmt.Println("serve:", <-done)
	// Output:
	// put job 1
	// serve: <nil>
}
