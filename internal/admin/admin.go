package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/stats"
)

// ErrConfig is wrapped by every error of Config.Validate and
// ListenConfig.Validate.
var ErrConfig = errors.New("admin: invalid config")

// Config configures the admin handler. Only Broker is required; each
// other source, when nil, leaves its keys out of the stats and metrics.
type Config struct {
	// Broker is the engine the API reads and changes.
	Broker *broker.Broker
	// Stats gives the stats reply's keys and typed values, as
	// (*server.Server).Stats does; nil: the stats API gives only the
	// broker's current-jobs-* keys.
	Stats func() []stats.Entry
	// Stopping reports that the job server is shutting down, as
	// (*server.Server).Stopping does; /readyz then answers 503. Nil: never.
	Stopping func() bool
	// Commands returns how often a command ran (the cmd-* stats), such as
	// (*server.Server).Count; nil: no command metrics.
	Commands func(op beanstalk.Op) uint64
	// Refused returns how many connections the job server refused at its
	// connection limit, as (*server.Server).Refused does; nil: no metric.
	Refused func() uint64
	// Binlog gives the binlog-* stats keys, as server.Config.Binlog does;
	// nil: those of a server without a log (zeros, max size 10485760).
	Binlog func() server.BinlogStats
	// ExtraStats gives the keys appended to the stats reply after
	// beanstalkd's (the durable log's wal-* keys), as
	// server.Config.ExtraStats does.
	ExtraStats func() []beanstalk.KeyValue
	// MaxJobSize is the max-job-size stats key; default the broker's.
	MaxJobSize int
	// Version is the version stats key; default server.Version.
	Version string
	// Token, when not empty, is required as "Authorization: Bearer
	// <Token>" by every API call and by /metrics (unless MetricsPublic).
	Token string
	// MetricsPublic serves /metrics without the token.
	MetricsPublic bool
	// Settings, if set, gives the effective configuration that GET
	// /api/v1/config shows (as JSON; secrets must be hidden already).
	Settings func() any
	// Observer, if set, adds its per-tube wait and run time histograms to
	// /metrics and its failure counts, kept after a tube is dropped, to
	// GET /api/v1/failures and the dashboard; give the same Observer to
	// broker.Config.Observer. Nil: no histograms, and the failures reply
	// lists no tube.
	Observer *Observer
	// Logger receives one info line per action that changes jobs or
	// tubes; default slog.Default().
	Logger *slog.Logger
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.Broker == nil {
		return errors.Join(ErrConfig, errors.New("admin: Broker is required"))
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return errors.Join(ErrConfig, errors.New("admin: the token must not contain spaces or line breaks"))
	}
	return nil
}

// Handler is the admin HTTP handler: API, metrics, health and dashboard.
type Handler struct {
	router
	cfg Config
	b   *broker.Broker
	log *slog.Logger
}

// New returns the handler for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxJobSize == 0 {
		cfg.MaxJobSize = cfg.Broker.MaxJobSize()
	}
	if cfg.Version == "" {
		cfg.Version = server.Version
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{router: newRouter(cfg.Token), cfg: cfg, b: cfg.Broker, log: cfg.Logger}
	h.routes()
	return h, nil
}

// routes registers every path.
func (h *Handler) routes() {
	h.handle("/api/v1/stats", route{methods: get(h.serverStats)})
	h.handle("/api/v1/config", route{methods: get(func(w http.ResponseWriter, r *http.Request) {
		settingsReply(h.cfg.Settings, w, r)
	})})
	h.handle("/api/v1/tubes", route{methods: get(h.tubes)})
	h.handle("/api/v1/schedules", route{methods: get(h.schedules)})
	h.handle("/api/v1/failures", route{methods: get(h.failures)})
	h.handle("/api/v1/tubes/{tube}", route{methods: get(h.tube)})
	h.handle("/api/v1/tubes/{tube}/jobs", route{methods: get(h.tubeJobs)})
	h.handle("/api/v1/tubes/{tube}/kick", route{methods: post(h.kickTube)})
	h.handle("/api/v1/tubes/{tube}/pause", route{methods: post(h.pauseTube)})
	h.handle("/api/v1/tubes/{tube}/unpause", route{methods: post(h.unpauseTube)})
	h.handle("/api/v1/tubes/{tube}/flush", route{methods: post(h.flushTube)})
	h.handle("/api/v1/jobs/{id}", route{methods: map[string]http.HandlerFunc{
		http.MethodGet: h.job, http.MethodHead: h.job, http.MethodDelete: h.deleteJob,
	}})
	h.handle("/api/v1/jobs/{id}/kick", route{methods: post(h.kickJob)})
	h.notFound("/api/", true, "endpoint", "see docs/admin.md")
	h.handle("/metrics", route{public: h.cfg.MetricsPublic, methods: get(h.metrics)})
	h.handle("/healthz", route{public: true, methods: get(healthz)})
	h.handle("/readyz", route{public: true, methods: get(h.readyz)})
	h.handle("/{$}", route{public: true, methods: get(h.dashboard)})
	h.handle("/assets/{file}", route{public: true, methods: get(h.asset)})
	h.notFound("/", false, "page", "the dashboard is at /, the API under /api/v1")
}

// ServeHTTP serves the admin interface.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// readyz answers 200 "ready", or 503 "stopping" once the job server is
// shutting down and "draining" while drain mode is on (puts are refused),
// so that a load balancer sends producers elsewhere.
func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.cfg.Stopping != nil && h.cfg.Stopping() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("stopping\n"))
		return
	}
	if h.b.Stats().Draining {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
