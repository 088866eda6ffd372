package admin

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/server"
)

// ErrConfig is wrapped by every error of Config.Validate and
// ListenConfig.Validate.
var ErrConfig = errors.New("admin: invalid config")

// Config configures the admin handler. Only Broker is required; each
// other source, when nil, leaves its keys out of the stats and metrics.
type Config struct {
	// Broker is the engine the API reads and changes.
	Broker *broker.Broker
	// Stats gives the stats reply's keys and values, as
	// (*server.Server).Stats does; nil: the stats API gives only the
	// broker's current-jobs-* keys.
	Stats func() []beanstalk.KeyValue
	// Stopping reports that the job server is shutting down, as
	// (*server.Server).Stopping does; /readyz then answers 503. Nil: never.
	Stopping func() bool
	// Commands returns how often a command ran (the cmd-* stats), such as
	// (*server.Server).Count; nil: no command metrics.
	Commands func(op beanstalk.Op) uint64
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
	cfg Config
	b   *broker.Broker
	log *slog.Logger
	mux *http.ServeMux
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
	h := &Handler{cfg: cfg, b: cfg.Broker, log: cfg.Logger, mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// route is one path of the admin interface with a handler per method.
type route struct {
	// public routes need no token.
	public  bool
	methods map[string]http.HandlerFunc
}

// routes registers every path. Methods are dispatched here rather than
// in the mux patterns so that a wrong method gets a JSON 405 naming the
// allowed ones.
func (h *Handler) routes() {
	get := func(f http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{http.MethodGet: f, http.MethodHead: f}
	}
	post := func(f http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{http.MethodPost: f}
	}
	h.handle("/api/v1/stats", route{methods: get(h.serverStats)})
	h.handle("/api/v1/tubes", route{methods: get(h.tubes)})
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
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(w, r) {
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path+" (see docs/admin.md)")
	})
	h.handle("/metrics", route{public: h.cfg.MetricsPublic, methods: get(h.metrics)})
	h.handle("/healthz", route{public: true, methods: get(h.healthz)})
	h.handle("/readyz", route{public: true, methods: get(h.readyz)})
	h.handle("/{$}", route{public: true, methods: get(h.dashboard)})
	h.handle("/assets/{file}", route{public: true, methods: get(h.asset)})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such page: "+r.URL.Path+" (the dashboard is at /, the API under /api/v1)")
	})
}

// handle registers rt at pattern with authentication and method dispatch.
func (h *Handler) handle(pattern string, rt route) {
	allow := make([]string, 0, len(rt.methods))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
		if rt.methods[m] != nil {
			allow = append(allow, m)
		}
	}
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !rt.public && !h.authorized(w, r) {
			return
		}
		f := rt.methods[r.Method]
		if f == nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or "))
			return
		}
		f(w, r)
	})
}

// ServeHTTP serves the admin interface.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token and answers 401 when it is missing
// or wrong.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.cfg.Token == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(h.cfg.Token)) == 1 {
		return true
	}
	if auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reprieve"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "this server needs an admin token: send the header Authorization: Bearer <token>")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="reprieve", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "the admin token is wrong: send the header Authorization: Bearer <token> with the server's --admin-token")
	return false
}

// healthz answers 200 "ok" while the process serves HTTP at all.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

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
