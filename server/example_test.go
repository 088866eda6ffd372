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

// Example_cluster runs a node in cluster mode (docs/cluster.md): the log
// is a NATS JetStream stream, here on an embedded NATS server with one
// replica. Three nodes are the same with three replicas and each node's
// RouteListen and Peers set. Leading is closed once the node leads; a
// client.Pool with Cluster set sends to the leader and follows it.
func Example_cluster() {
	dir, _ := os.MkdirTemp("", "reprieve-cluster-example-")
	defer os.RemoveAll(dir)

	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir // the embedded NATS keeps the stream in dir/nats
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Cluster.Name = "jobs"
	cfg.Cluster.Node = "n1"
	cfg.Cluster.Replicas = 1
	cfg.Cluster.RouteListen = "127.0.0.1:0" // a lone node has no peers to route to
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()
	<-srv.Leading()

	p, err := client.NewPool(ctx, client.PoolConfig{Addrs: []string{srv.Addr()}, Cluster: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	ref, err := p.Put(ctx, "emails", []byte("hello"), 0, 0, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("put job", ref.ID, "acknowledged by a majority of the replicas")
	fmt.Println("pool sends to the leader:", p.Stats().Leader == srv.Addr())
	p.Close()

	c, err := client.Dial(ctx, srv.Addr())
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := c.Stats(ctx)
	fmt.Println(st.Text("cluster-role"), st.Text("cluster-leader"), "term", st.Text("cluster-term"))
	c.Close()

	stop()
	fmt.Println("serve:", <-done)
	// Output:
	// put job 1 acknowledged by a majority of the replicas
	// pool sends to the leader: true
	// leader n1 term 1
	// serve: <nil>
}
