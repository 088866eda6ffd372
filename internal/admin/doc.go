// Package admin serves Reprieve's operator interface over HTTP: a JSON API
// under /api/v1 (server, tube and job stats, buried jobs with their failure
// history, failure counts per tube kept after a tube is dropped, kick,
// delete, pause and flush), Prometheus metrics at /metrics,
// health checks at /healthz and /readyz, and a dashboard at / whose HTML,
// script and style sheet are embedded in the binary.
//
// Observer (observer.go) is the engine's broker.Observer: it keeps the
// per-tube wait and run time histograms, dropped with their tube, and the
// failure counts, which outlive it (bounded, oldest dropped forgotten
// first).
//
// New builds the http.Handler from a Config; Server runs it on a listener,
// with TLS when a certificate is given (checked by internal/certs), and
// shuts it down bounded. Every API call (and /metrics unless
// Config.MetricsPublic) needs the "Authorization: Bearer <token>" header
// when Config.Token is set. Before that, so that a token-less interface
// on loopback is no target for other web sites, Server refuses a Host
// that does not name it (host.go), and the handlers refuse cross-site
// changes, action bodies that are not JSON and bodies over MaxBodyBytes
// (guard.go). The
// admin API reads and changes the engine directly, never over the wire
// protocol; docs/admin.md documents every endpoint and reply.
//
// NewPipelineHandler builds the smaller interface of 'reprieve run': a
// pipeline's counters as /metrics and /api/v1/pipeline, with /healthz and
// /readyz, behind the same token check and JSON errors (router.go holds
// what both handlers share).
package admin
