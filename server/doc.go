// Package server is a whole Reprieve server as a library — the engine,
// the durable log, failure policies, TLS and the admin interface — for a
// Go program that embeds one, as `reprieve serve` does:
//
//	cfg := server.DefaultConfig()
//	cfg.Listen = "127.0.0.1:0"      // any free port; Addr tells which
//	cfg.DataDir = "/var/lib/myapp"  // durable; "" keeps jobs in memory
//	srv, err := server.New(cfg)     // loads, replays the log, listens
//	...
//	err = srv.Serve(ctx)            // until ctx ends, then a graceful shutdown
//
// New starts the parts in one order: the policy file, the job port's
// certificate, the admin listener (so that a mistake or a busy port stops
// the start before a long replay), the durable log (replayed into the
// engine, ids going on where the log ended), the job port's listener, and
// the admin interface. In cluster mode (Config.Cluster) the cluster node
// takes the durable log's place: New connects it to NATS, and Serve
// proxies the job port to the cluster's leader until this node leads,
// then restores the engine from the replicated stream and serves until
// the node stops leading (ErrDeposed). Shutdown stops them in the reverse order. Reload
// reads the policy file and every certificate again, keeping what is in
// force where a new file is refused; `reprieve serve` calls it on SIGHUP.
package server
