package main

// This file holds the memory part of reprieve serve: the keeper that paces
// the garbage collector to the live jobs and returns memory to the
// operating system after bursts (internal/memory, docs/performance.md).

import (
	"context"
	"flag"
	"log/slog"
	"sync"

	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/memory"
	"github.com/reprieve/reprieve/internal/server"
)

func init() {
	registerServePlugin(servePlugin{name: "memory", flags: func(*flag.FlagSet) {}, configure: configureMemory})
}

// configureMemory starts the keeper once the broker exists and stops it
// (and waits for it) when the server is done.
func configureMemory(_ *slog.Logger, _ *broker.Config, _ *server.Config) (func(*broker.Broker) error, func() error, error) {
	k, err := memory.New(memory.DefaultConfig())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	started := func(*broker.Broker) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.Run(ctx)
		}()
		return nil
	}
	stop := func() error {
		cancel()
		wg.Wait()
		return nil
	}
	return started, stop, nil
}
